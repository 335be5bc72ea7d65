// The router's Prometheus text (`GET /metrics`, docs/router.md) read for the
// dashboard: sessions now, and a message counter whose rate is messages/s.
// Only the few series the dashboard shows are read; anything else is ignored.

export interface RouterNumbers {
  /** Sum of `clawgate_sessions` over realms and roles. */
  sessions: number | undefined;
  /** Sum of `clawgate_messages_received_total` and `clawgate_messages_sent_total` over message types. */
  messages: number | undefined;
}

const SESSIONS = 'clawgate_sessions';
const MESSAGES = ['clawgate_messages_received_total', 'clawgate_messages_sent_total'];

/** One sample line: `name{labels} value [timestamp]`; undefined for comments and junk. */
export function parseSample(line: string): { name: string; value: number } | undefined {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)/.exec(line.trim());
  if (!m) return undefined;
  const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
  return Number.isNaN(value) ? undefined : { name: m[1]!, value };
}

export function routerNumbers(text: string): RouterNumbers {
  let sessions: number | undefined;
  let messages: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const s = parseSample(line);
    if (!s) continue;
    if (s.name === SESSIONS) sessions = (sessions ?? 0) + s.value;
    else if (MESSAGES.includes(s.name)) messages = (messages ?? 0) + s.value;
  }
  return { sessions, messages };
}
