// Session testaments (wamp.session.add_testament): events a session leaves
// behind, published by the router when the session goes away.
import type { Dict } from '../messages/types.js';
import type { Peer } from '../routing/peer.js';
import type { PublicationData } from '../routing/publication.js';

export type TestamentScope = 'destroyed' | 'detached';

export interface Testament {
  topic: string;
  data: PublicationData;
  options: Dict;
}

export class Testaments {
  private readonly byPeer = new Map<Peer, Record<TestamentScope, Testament[]>>();
  /** On a cluster node: a session's testaments changed (the other nodes keep them, to publish them if this node dies). */
  changed: ((session: Peer, destroyed: Testament[], detached: Testament[]) => void) | null = null;

  add(session: Peer, scope: TestamentScope, t: Testament): void {
    let mine = this.byPeer.get(session);
    if (mine === undefined) { mine = { destroyed: [], detached: [] }; this.byPeer.set(session, mine); }
    mine[scope].push(t);
    if (this.changed !== null) this.changed(session, mine.destroyed, mine.detached);
  }

  /** Testaments `session` holds now, both scopes (what max_testaments counts). */
  count(session: Peer): number {
    const mine = this.byPeer.get(session);
    return mine === undefined ? 0 : mine.destroyed.length + mine.detached.length;
  }

  /** Removes and returns the count flushed. */
  flush(session: Peer, scope: TestamentScope): number {
    const mine = this.byPeer.get(session);
    if (mine === undefined) return 0;
    const n = mine[scope].length;
    mine[scope] = [];
    if (n > 0 && this.changed !== null) this.changed(session, mine.destroyed, mine.detached);
    return n;
  }

  take(session: Peer, scope: TestamentScope): Testament[] {
    const mine = this.byPeer.get(session);
    if (mine === undefined) return [];
    const out = mine[scope];
    mine[scope] = [];
    if (mine.destroyed.length === 0 && mine.detached.length === 0) this.byPeer.delete(session);
    return out;
  }
}
