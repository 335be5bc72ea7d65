// Session testaments (wamp.session.add_testament): events a session leaves
// behind, published by the router when the session goes away.
import type { Dict } from '../messages/types.js';
import type { Session } from '../session/session.js';
import type { PublicationData } from '../broker/broker.js';

export type TestamentScope = 'destroyed' | 'detached';

export interface Testament {
  topic: string;
  data: PublicationData;
  options: Dict;
}

export class Testaments {
  private readonly bySession = new Map<Session, Record<TestamentScope, Testament[]>>();

  add(session: Session, scope: TestamentScope, t: Testament): void {
    let mine = this.bySession.get(session);
    if (mine === undefined) { mine = { destroyed: [], detached: [] }; this.bySession.set(session, mine); }
    mine[scope].push(t);
  }

  /** Testaments `session` holds now, both scopes (what max_testaments counts). */
  count(session: Session): number {
    const mine = this.bySession.get(session);
    return mine === undefined ? 0 : mine.destroyed.length + mine.detached.length;
  }

  /** Removes and returns the count flushed. */
  flush(session: Session, scope: TestamentScope): number {
    const mine = this.bySession.get(session);
    if (mine === undefined) return 0;
    const n = mine[scope].length;
    mine[scope] = [];
    return n;
  }

  take(session: Session, scope: TestamentScope): Testament[] {
    const mine = this.bySession.get(session);
    if (mine === undefined) return [];
    const out = mine[scope];
    mine[scope] = [];
    if (mine.destroyed.length === 0 && mine.detached.length === 0) this.bySession.delete(session);
    return out;
  }
}
