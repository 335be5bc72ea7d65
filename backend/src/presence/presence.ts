// Who is connected, by authid: a player counts as present while at least one
// of their sessions (tabs) is on the realm. Fed by wamp.session.on_join /
// on_leave, and rebuilt from wamp.session.list/get on every (re)connect.
export class Presence {
  private readonly sessionsOf = new Map<string, Set<number>>();
  private readonly authidOf = new Map<number, string>();

  /**
   * Records a session: `first` when this authid was not present before,
   * `another` for a further session of a present authid (a second tab, or a
   * reload whose new session came before the old one left), `known` for a
   * session already recorded.
   */
  join(session: number, authid: string): 'first' | 'another' | 'known' {
    if (this.authidOf.has(session)) return 'known';
    this.authidOf.set(session, authid);
    let set = this.sessionsOf.get(authid);
    const first = set === undefined || set.size === 0;
    if (!set) { set = new Set(); this.sessionsOf.set(authid, set); }
    set.add(session);
    return first ? 'first' : 'another';
  }

  /** Forgets a session; returns its authid when that was the authid's last session. */
  leave(session: number): string | undefined {
    const authid = this.authidOf.get(session);
    if (authid === undefined) return undefined;
    this.authidOf.delete(session);
    const set = this.sessionsOf.get(authid);
    set?.delete(session);
    if (set && set.size > 0) return undefined;
    this.sessionsOf.delete(authid);
    return authid;
  }

  present(authid: string): boolean { return (this.sessionsOf.get(authid)?.size ?? 0) > 0; }
  clear(): void { this.sessionsOf.clear(); this.authidOf.clear(); }
}
