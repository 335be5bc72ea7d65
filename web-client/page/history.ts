// Reads a subscription's event history (wamp.subscription.get_events; the
// claw router keeps it for the machines' events and the players' topics,
// docs/protocol.md "Catching up after a reconnect"). Which events are new is
// decided in src/logic/catch-up.ts. History is optional: without it (no
// history for that topic, not allowed, an older router) a page works as it
// did before, so a failure is said once on the console and answered with
// undefined.
import type { Session, Subscription } from 'autobahn';
import { parseHistory, type HistoryEvent } from '../src/logic/catch-up.js';
import { errorUri } from './dom.js';

const GET_EVENTS = 'wamp.subscription.get_events';

/** Each kind of failure is logged once per page, not once per machine and reconnect. */
const told = new Set<string>();

export async function readHistory(session: Session, subscription: Subscription, topic: string, limit: number): Promise<HistoryEvent[] | undefined> {
  let answer: unknown;
  try {
    answer = await session.call<unknown>(GET_EVENTS, [subscription.id, limit]);
  } catch (e) {
    // A session that closed meanwhile is not the history's fault: its successor asks again.
    if (session.isOpen) warnOnce(errorUri(e), `no event history for ${topic} (${errorUri(e)}): what is missed while disconnected is not caught up`);
    return undefined;
  }
  const events = parseHistory(answer);
  if (events === undefined) warnOnce('malformed', `ignored a malformed event history answer for ${topic}`);
  return events;
}

function warnOnce(kind: string, message: string): void {
  if (told.has(kind)) return;
  told.add(kind);
  console.warn(message);
}
