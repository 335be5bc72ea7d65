// Catching up with the router's event history after a reconnect
// (wamp.subscription.get_events; docs/protocol.md, "Catching up after a
// reconnect"). The router answers a subscription's last events newest first;
// these functions decide which of them a page has not taken in yet. The pages
// do the calls (page/history.ts) and feed the events to their reducers.
//
// Publication ids are random, not ordered, so "newer than what we saw" is a
// position in the router's list: everything above the newest event the page
// had taken in when its connection was lost.
//
// The player page's topic is also a persistent subscription (x_persistent,
// docs/web-client.md): the router replays what it kept while no session of
// the player held it right after SUBSCRIBED, before it answers anything the
// page sends later. So the events that reach a new session before its
// history read answers (the replay, and live ones) are held back and
// replayed together with the history's, once each.

/** One record of a `wamp.subscription.get_events` answer. */
export interface HistoryEvent {
  publication: number;
  topic: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A `get_events` answer, newest first as the router sends it; records of
 * another shape are left out (an older or other router may add fields,
 * which are ignored). Undefined when the answer is not a list.
 */
export function parseHistory(value: unknown): HistoryEvent[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: HistoryEvent[] = [];
  for (const r of value) {
    if (!isObject(r) || typeof r.publication !== 'number' || typeof r.topic !== 'string') continue;
    const args = r.args === undefined || r.args === null ? [] : r.args;
    const kwargs = r.kwargs === undefined || r.kwargs === null ? {} : r.kwargs;
    if (!Array.isArray(args) || !isObject(kwargs)) continue;
    out.push({ publication: r.publication, topic: r.topic, args, kwargs });
  }
  return out;
}

/**
 * Where a page stands on one topic: the newest publication it has taken in;
 * `null` when the topic had none when the page first looked (everything in
 * its history is new); `undefined` when unknown (nothing in the history can
 * be told apart from what came before the page, so nothing is replayed).
 */
export type Mark = number | null | undefined;

/**
 * The events of `history` (newest first) published after `mark`, oldest
 * first. A mark that is no longer in the list was pushed out of the
 * router's bounded history by newer events (or the router restarted and
 * lost it): then every event in the list is newer than it.
 */
export function eventsAfter(history: readonly HistoryEvent[], mark: Mark): HistoryEvent[] {
  if (mark === undefined) return [];
  const i = mark === null ? -1 : history.findIndex((e) => e.publication === mark);
  return (i === -1 ? history.slice() : history.slice(0, i)).reverse();
}

/** An event the page replays: from the history, or one it held back while its catch-up was pending. */
export interface CaughtUp {
  publication: number | undefined;
  args: unknown[];
}

/** Events held back while a catch-up is pending, at most (the oldest go first): far more than a replay and a history read bring. */
export const MAX_HELD_BACK = 200;

/**
 * What a catch-up replays: the held-back events (a persistent
 * subscription's replay, live ones) that are not among the history's, in
 * the order they came, then the history's events after the mark. Held-back
 * events the history does not have are older than all of its (it keeps the
 * newest, and has everything published up to its answer), so they go first.
 */
export function mergeCatchUp(heldBack: readonly CaughtUp[], fromHistory: readonly CaughtUp[]): CaughtUp[] {
  const inHistory = new Set(fromHistory.map((e) => e.publication));
  return [...heldBack.filter((e) => e.publication === undefined || !inHistory.has(e.publication)), ...fromHistory];
}

/**
 * One topic's catch-up across a page's sessions. Live events move the mark.
 * A new session starts a catch-up from the mark it had when the connection
 * was lost; until the history answers, the events the new session gets are
 * held back and leave the mark alone (the live ones are in the history too,
 * newer than what was missed, and the replay puts them after it; a
 * persistent subscription's replay is older than them). A catch-up that
 * never finished (the session closed first) is taken up by the next session
 * from the same mark, with what was held back so far.
 */
export class TopicCursor {
  /** Unknown at first: the first session's history only says where the page starts. */
  private mark: Mark = undefined;
  /** Where the catch-up in progress starts; undefined when none is. */
  private pending: { from: Mark } | undefined;
  /** The newest live event while a catch-up is pending (what the mark becomes if the catch-up fails). */
  private liveWhilePending: number | undefined;
  /** The events that came while the catch-up was pending, oldest first. */
  private heldBack: CaughtUp[] = [];

  get current(): Mark { return this.mark; }

  /** A new session is about to subscribe the topic (call it before subscribing, so no live event comes first). */
  sessionStarted(): void {
    if (this.pending !== undefined) return; // the last catch-up did not finish: start from where it would have
    this.pending = { from: this.mark };
    this.liveWhilePending = undefined;
    this.heldBack = [];
  }

  /**
   * An event of the topic. True: apply it now. False: a catch-up is
   * pending, and the event (with `args`) is held back for it: caughtUp()
   * or failed() returns it in its place.
   */
  live(publication: number | undefined, args?: unknown[]): boolean {
    if (this.pending === undefined) {
      if (publication !== undefined) this.mark = publication;
      return true;
    }
    if (publication !== undefined) this.liveWhilePending = publication;
    if (args !== undefined) {
      this.heldBack.push({ publication, args });
      if (this.heldBack.length > MAX_HELD_BACK) this.heldBack.shift();
    }
    return false;
  }

  /**
   * The history answered (newest first): the events to replay, oldest first:
   * what was held back and the history does not have, then the history's
   * events after the mark, including any the new session already got (the
   * replay ends with the newest, so what the page shows ends as the newest
   * event says).
   */
  caughtUp(history: readonly HistoryEvent[]): CaughtUp[] {
    if (this.pending === undefined) return [];
    const events = mergeCatchUp(this.heldBack, eventsAfter(history, this.pending.from));
    const newest = history[0]?.publication;
    // Nothing in the history: what the mark was still holds, and an unknown one becomes "none so far".
    this.mark = newest ?? this.liveWhilePending ?? (this.pending.from === undefined ? null : this.pending.from);
    this.pending = undefined;
    this.heldBack = [];
    return events;
  }

  /**
   * The history could not be read (no history for the topic, not allowed,
   * an older router): the page goes on as without it, from the newest event
   * it got, or not knowing where it stands. Returns what was held back, to
   * be applied now.
   */
  failed(): CaughtUp[] {
    if (this.pending === undefined) return [];
    this.mark = this.liveWhilePending;
    this.pending = undefined;
    const held = this.heldBack;
    this.heldBack = [];
    return held;
  }
}
