// The queue's decisions as pure functions: who is where, how long they wait,
// who may join, what a machine should do next. No I/O, no clock: callers
// pass `now`. Unit-tested in backend/test/rules.test.ts.
import { ClawErrors, type ClawErrorUri, type MachineState, type TurnResult } from '@clawgate/protocol';
import type { Entry, MachineRow } from '../db/repository.js';
import type { Settings } from '../config.js';

/** Seconds a turn is assumed to take beyond moveSeconds (the drop cycle and prize window) before any turn was measured; also the first guess of the drop cycle. */
export const TURN_OVERHEAD_SECONDS = 10;
/** Seconds a player is assumed to take to confirm a ready check before any confirmation was measured. */
export const READY_GUESS_SECONDS = 5;
/** Weight of the newest turn in the running average (exponential moving average). */
export const AVERAGE_WEIGHT = 0.2;

export function isCurrent(e: Pick<Entry, 'state'>): boolean {
  return e.state === 'starting' || e.state === 'playing';
}

/** The entry whose turn runs (or is being started), if any. */
export function currentOf<E extends Pick<Entry, 'state'>>(entries: readonly E[]): E | undefined {
  return entries.find(isCurrent);
}

/** Waiting entries in queue order; the index is the position (0 = front, the next to play). */
export function waitingOf<E extends Pick<Entry, 'state'>>(entries: readonly E[]): E[] {
  return entries.filter((e) => !isCurrent(e));
}

/** Effective settings: operator's (stored per machine) over the config's per-machine ones over the defaults. */
export function effectiveSettings(row: Pick<MachineRow, 'moveSeconds' | 'readyWindowSeconds' | 'graceSeconds' | 'maxQueue'> | undefined,
  configured: Partial<Settings> | undefined, defaults: Settings): Settings {
  return {
    moveSeconds: row?.moveSeconds ?? configured?.moveSeconds ?? defaults.moveSeconds,
    readyWindowSeconds: row?.readyWindowSeconds ?? configured?.readyWindowSeconds ?? defaults.readyWindowSeconds,
    graceSeconds: row?.graceSeconds ?? configured?.graceSeconds ?? defaults.graceSeconds,
    maxQueue: row?.maxQueue ?? configured?.maxQueue ?? defaults.maxQueue,
  };
}

/** The average turn length to plan with: measured, or moveSeconds plus the overhead. */
export function plannedTurnMs(avgTurnMs: number | null, moveSeconds: number): number {
  return avgTurnMs ?? (moveSeconds + TURN_OVERHEAD_SECONDS) * 1000;
}

/** The running average after one more turn of `sampleMs`. The first turn replaces the initial guess. */
export function nextAverage(avgTurnMs: number | null, turnsCount: number, sampleMs: number): number {
  if (avgTurnMs === null || turnsCount === 0) return sampleMs;
  return avgTurnMs + AVERAGE_WEIGHT * (sampleMs - avgTurnMs);
}

/**
 * Seconds until the player at `position` plays: what is left of the current
 * turn (by the average, at least 0) plus one average turn per player ahead.
 * (The simple model; waitTimes is what the backend uses.)
 */
export function etaSeconds(position: number, turnMs: number, currentElapsedMs: number | undefined): number {
  const rest = currentElapsedMs === undefined ? 0 : Math.max(0, turnMs - currentElapsedMs);
  return Math.round((rest + position * turnMs) / 1000);
}

/** Everything the wait estimate depends on, for one machine. */
export interface WaitView {
  now: number;
  /** Paused by an operator, or the node not ready to play (offline, maintenance): no turn starts until that changes. */
  halted: boolean;
  /** Average turn, start_turn → result (plannedTurnMs). */
  turnMs: number;
  /** Average time from being asked to confirming. */
  readyMs: number;
  /** Average time from a turn's endsAt to its result (the drop cycle and prize window). */
  dropMs: number;
  readyWindowMs: number;
  /** The turn running or starting, if any. */
  current: { startedAt: number; endsAt: number | null } | undefined;
  /** The waiting entries in queue order (position 0 first): whether the player is connected, and for the one asked when and until when. */
  waiting: readonly { present: boolean; readyDeadline: number | null; askedAt?: number | null }[];
}

/**
 * How long (ms) until each waiting player is asked to get ready, or
 * undefined for all while the machine is halted (paused, offline): no
 * estimate is honest then. The current turn takes what is left of an
 * average turn, but never more than its end plus a drop cycle; each player
 * ahead then costs the time they take to confirm plus an average turn, and
 * one who is away (likely not to confirm) costs what is left of their ready
 * window instead.
 */
export function waitTimes(v: WaitView): (number | undefined)[] {
  if (v.halted) return v.waiting.map(() => undefined);
  let t = 0;
  if (v.current) {
    const byAverage = v.turnMs - (v.now - v.current.startedAt);
    const latest = v.current.endsAt === null ? Infinity : Math.max(0, v.current.endsAt - v.now) + v.dropMs;
    t = Math.max(0, Math.min(byAverage, latest));
  }
  return v.waiting.map((e) => {
    const at = t;
    const window = e.readyDeadline === null ? v.readyWindowMs : Math.max(0, e.readyDeadline - v.now);
    // The one asked is expected to confirm an average delay after being asked (so the estimate holds still while nothing happens).
    const ready = e.readyDeadline !== null && e.askedAt != null ? Math.max(0, e.askedAt + v.readyMs - v.now) : v.readyMs;
    t += e.present ? Math.min(ready, window) + v.turnMs : window;
    return at;
  });
}

/**
 * When the ready check of an entry times out. The check of a player who has
 * not been seen since the backend (re)attached to the router (`awaited`:
 * absent at the attach and not back since; they may be reconnecting after a
 * restart) does not run out within the recovery window; their grace period
 * still applies. A player seen after the attach who then goes away has the
 * usual window.
 */
export function readyTimeoutAt(v: { deadline: number; awaited: boolean; attachedAt: number; recoveryWindowMs: number }): number {
  return v.awaited ? Math.max(v.deadline, v.attachedAt + v.recoveryWindowMs) : v.deadline;
}

/**
 * The new deadline of a ready check whose player just came back for the
 * first time since the attach (the caller decides that), or undefined to
 * keep it: within the recovery window, a deadline less than one ready window
 * away is pushed to now + the window, once per ready check (`extended`).
 */
export function extendedDeadline(v: { deadline: number; extended: boolean; now: number; attachedAt: number; recoveryWindowMs: number; readyWindowMs: number }): number | undefined {
  if (v.extended || v.now >= v.attachedAt + v.recoveryWindowMs) return undefined;
  if (v.deadline - v.now >= v.readyWindowMs) return undefined;
  return v.now + v.readyWindowMs;
}

/**
 * When a player in control whose sessions are all gone loses the turn:
 * `turnGraceMs` after they went (presence before the backend attached is
 * unknown, so at the earliest after the attach).
 */
export function turnGraceExpiry(disconnectedAt: number, attachedAt: number, turnGraceMs: number): number {
  return Math.max(disconnectedAt, attachedAt) + turnGraceMs;
}

export interface JoinView {
  /** The node is registered and its status is not offline. */
  online: boolean;
  alreadyQueued: boolean;
  queueLength: number;
  maxQueue: number;
  /** Places in this queue held by players minted from the caller's client address. */
  addressPlaces?: number;
  /** The per-address quota (guests.queuePlacesPerAddress); 0 or absent: none (also for players with no recorded address). */
  placesPerAddress?: number;
  /** An operator's kick blocks this player from joining this machine now. */
  blocked?: boolean;
  /** Only reclaim a place (request_slot `resume`): never join. */
  resumeOnly?: boolean;
}

/** request_slot: keep the slot a player has (idempotent), or join at the back, or why not. */
export function joinDecision(v: JoinView): 'existing' | 'join' | ClawErrorUri {
  if (v.alreadyQueued) return 'existing';
  if (v.resumeOnly) return ClawErrors.notInQueue;
  if (v.blocked) return ClawErrors.blocked;
  if (!v.online) return ClawErrors.machineOffline;
  if (v.queueLength >= v.maxQueue) return ClawErrors.queueFull;
  if ((v.placesPerAddress ?? 0) > 0 && (v.addressPlaces ?? 0) >= v.placesPerAddress!) return ClawErrors.quotaExceeded;
  return 'join';
}

/** What the backend knows about the turn in progress on a machine. */
export interface CurrentTurn { turnId: number | null; authid: string }

/** What a node's turn_ended says about whose turn it was. */
export interface TurnEndClaim { turn?: number; authid?: string; player: string }

/**
 * Which turn a node's `turn_ended` is about, by turn id and authid, never by
 * display name:
 * - `this_turn`: the turn in progress;
 * - `other_turn`: it names another turn (a stale or forged event): ignore it;
 * - `unattributed`: an old node's event with neither turn id nor authid
 *   (its `player` is a display name). A node reports its turns in order, so
 *   it is about the turn in progress if the node says `ready` next.
 * An old node given no display name names the player by authid in `player`;
 * that counts as the authid.
 */
export function matchTurnEnd(ev: TurnEndClaim, current: CurrentTurn | undefined): 'this_turn' | 'other_turn' | 'unattributed' {
  if (ev.turn !== undefined) {
    return current !== undefined && current.turnId === ev.turn && (ev.authid === undefined || ev.authid === current.authid) ? 'this_turn' : 'other_turn';
  }
  if (ev.authid !== undefined) return current !== undefined && ev.authid === current.authid ? 'this_turn' : 'other_turn';
  if (current !== undefined && ev.player === current.authid) return 'this_turn';
  return 'unattributed';
}

/**
 * The node said `ready` while the backend thinks a turn runs on it, with no
 * `turn_ended` matched to that turn. How the turn ends:
 * - with the result of the node's last unattributed `turn_ended` since the
 *   turn started (an old node's event; it came right before this `ready`);
 * - else, when the node's session that started the turn is still the one
 *   registered: `timeout` (the node ended the turn without reporting it; the
 *   result is unknown, and the player is not compensated);
 * - else (a new node session): `abandoned` (the node restarted and lost the
 *   turn; the player goes back to the front).
 */
export function readyDuringTurn(v: { unattributed: TurnResult | undefined; sameNodeSession: boolean }): TurnResult {
  if (v.unattributed !== undefined) return v.unattributed;
  return v.sameNodeSession ? 'timeout' : 'abandoned';
}

export interface MachineView {
  online: boolean;
  /** The node's last status is `ready`. */
  nodeReady: boolean;
  paused: boolean;
  entries: readonly Pick<Entry, 'id' | 'state'>[];
  /** A start_turn failed since the node last said `ready`: wait for a fresh `ready`. */
  holdUntilReady: boolean;
}

export type NextStep = { kind: 'idle' } | { kind: 'ready_check'; entryId: number };

/** What a machine should do now: ask the player at the front to get ready, or nothing. */
export function nextStep(v: MachineView): NextStep {
  if (!v.online || !v.nodeReady || v.paused || v.holdUntilReady) return { kind: 'idle' };
  if (v.entries.some((e) => e.state !== 'waiting')) return { kind: 'idle' };
  const front = v.entries[0];
  return front ? { kind: 'ready_check', entryId: front.id } : { kind: 'idle' };
}

/** The state the lobby shows. */
export function displayState(online: boolean, nodeState: MachineState | undefined, paused: boolean): MachineState {
  if (!online || nodeState === undefined) return 'offline';
  if (paused && nodeState === 'ready') return 'paused';
  return nodeState;
}

/** A position message is due when the position differs from the last one sent (so positions only ever move when they change). */
export function positionDue(lastSent: number | undefined, position: number): boolean {
  return lastSent !== position;
}

/** When a disconnected waiting player's place expires. */
export function graceExpiry(disconnectedAt: number, graceSeconds: number): number {
  return disconnectedAt + graceSeconds * 1000;
}

/**
 * A token bucket per key: `calls` per `perSeconds`, refilled continuously.
 * The caller passes the time, so it is deterministic in tests.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly calls: number, private readonly perSeconds: number) {}

  /** Takes one token for `key`; false when none is left. */
  take(key: string, now: number): boolean {
    const rate = this.calls / (this.perSeconds * 1000);
    const b = this.buckets.get(key) ?? { tokens: this.calls, at: now };
    b.tokens = Math.min(this.calls, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (this.buckets.size > 100_000) this.buckets.clear(); // bounded memory; a reset only forgives
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
