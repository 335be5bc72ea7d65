// HTTP calls to the page's own origin: the deployment settings and the
// player login (`POST /api/session`, which also sets an HttpOnly cookie so a
// reloaded page gets the same authid back).
import { SessionAnswer } from '@clawgate/protocol';
import { skewFromDateHeader } from '../src/logic/format.js';

export interface ClientConfig {
  wsPath: string;
  realm: string;
  videoUrls: Record<string, string>;
}

export async function loadClientConfig(): Promise<ClientConfig> {
  try {
    const res = await fetch('/client-config.json', { cache: 'no-store' });
    if (res.ok) return (await res.json()) as ClientConfig;
  } catch { /* fall through to defaults */ }
  return { wsPath: '/ws', realm: 'claw', videoUrls: {} };
}

export function wsUrl(path: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${path}`;
}

export class LoginError extends Error {
  constructor(message: string, readonly status: number) { super(message); }
}

/** Logs in (or back in) as a player; the answer is validated at this edge. */
export async function createSession(name: string): Promise<SessionAnswer & { skewMs: number }> {
  const sentAt = Date.now();
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ name }),
  });
  const receivedAt = Date.now();
  if (!res.ok) {
    let message = `login failed (HTTP ${res.status})`;
    try {
      const body = (await res.json()) as { error?: string; message?: string };
      message = body.message ?? body.error ?? message;
    } catch { /* not JSON */ }
    throw new LoginError(message, res.status);
  }
  const answer = SessionAnswer.parse(await res.json());
  return { ...answer, skewMs: skewFromDateHeader(res.headers.get('date'), sentAt, receivedAt) };
}
