// The operator dashboard's state: every machine with its queue and status,
// recent turns (built from the events topics, seeded from claw.admin.turns
// when the backend offers it), and router statistics.
import type { AdminTurnRow, EventPayload, LinesPayload, MachineState, MachineSummary, QueueSnapshot, StatusPayload, TurnResult } from '@clawgate/protocol';
import { nodeState, pausedAfter, shownState } from './machine-state.js';

export interface OperatorMachine {
  machine: string;
  /** What the card's badge shows (see machine-state.ts). */
  state: MachineState;
  /** State as the machine list last said. */
  listed: MachineState;
  /** Paused by an operator: from the backend's snapshots, and from this dashboard's own pause/resume answers (a pause during a turn is not in the snapshot's `state`). */
  paused: boolean;
  queueLength: number;
  spectators: number;
  status: StatusPayload | undefined;
  queue: QueueSnapshot | undefined;
  lines: LinesPayload | undefined;
}

export interface TurnRow {
  machine: string;
  player: string;
  startedAt: number | undefined;
  endedAt: number | undefined;
  result: TurnResult | undefined;
  /** The backend's turn id (events and claw.admin.turns carry it): how a live row and a fetched one are known to be the same. */
  turnId?: number;
  /** `removed`: a player removed without a turn (no-show, kick, grace expiry; from claw.admin.turns). */
  kind?: 'turn' | 'removed';
  /** Removals: `timeout`, `kicked`, `grace_expired`. */
  reason?: string;
  /** Turns: why it ended (the protocol's TurnEndReason). */
  endReason?: string;
  /** Kicks with a block: until when (ms). */
  blockedUntil?: number;
  /** Who ended it or removed them (an operator's authid, or the player's own). */
  endedBy?: string;
}

export interface RouterStats {
  sessions: number | undefined;
  /** Messages per second, when the router exposes a message counter. */
  messagesPerSecond: number | undefined;
  /** Where the numbers come from, or why they are missing. */
  source: string;
  at: number;
}

export interface DashboardState {
  machines: Record<string, OperatorMachine>;
  order: string[];
  turns: TurnRow[];
  stats: RouterStats | undefined;
  /** Last operator action's outcome, e.g. "claw-1 paused" or an error. */
  notice: { text: string; tone: 'ok' | 'bad' } | undefined;
  /** A Skip or Kick waiting for the operator's confirmation. */
  confirm: PendingAction | undefined;
}

/** What a Skip or Kick was about when the operator pressed it (so the confirmation can't hit someone else). */
export type PendingAction =
  | { action: 'skip'; machine: string; player: string }
  | { action: 'kick'; machine: string; authid: string; name: string };

export const initialDashboard: DashboardState = { machines: {}, order: [], turns: [], stats: undefined, notice: undefined, confirm: undefined };

export type DashboardAction =
  | { type: 'machines'; machines: MachineSummary[] }
  | { type: 'queue'; snapshot: QueueSnapshot }
  | { type: 'status'; machine: string; status: StatusPayload }
  | { type: 'lines'; machine: string; lines: LinesPayload }
  | { type: 'event'; event: EventPayload }
  | { type: 'turns'; turns: TurnRow[] }
  | { type: 'stats'; stats: RouterStats }
  | { type: 'notice'; text: string; tone: 'ok' | 'bad' }
  /** The answer to this dashboard's own claw.admin.pause / resume. */
  | { type: 'paused'; machine: string; paused: boolean }
  | { type: 'ask'; pending: PendingAction }
  | { type: 'settle' };

const MAX_TURNS = 30;

function blank(machine: string): OperatorMachine {
  return { machine, state: 'offline', listed: 'offline', paused: false, queueLength: 0, spectators: 0, status: undefined, queue: undefined, lines: undefined };
}

function update(s: DashboardState, machine: string, f: (m: OperatorMachine) => OperatorMachine): DashboardState {
  const m = f(s.machines[machine] ?? blank(machine));
  const order = s.order.includes(machine) ? s.order : [...s.order, machine].sort();
  const state = shownState(nodeState(m.status?.state, m.queue?.state, m.listed), m.paused);
  return { ...s, order, machines: { ...s.machines, [machine]: { ...m, state } } };
}

export function reduceDashboard(s: DashboardState, a: DashboardAction): DashboardState {
  switch (a.type) {
    case 'machines': {
      let next = s;
      for (const m of a.machines) {
        next = update(next, m.machine, (v) => ({
          ...v, listed: m.state, queueLength: m.queueLength, spectators: m.spectators,
          paused: v.queue ? v.paused : pausedAfter(v.paused, m),
        }));
      }
      return next;
    }
    case 'queue':
      return update(s, a.snapshot.machine, (m) => ({ ...m, queue: a.snapshot, queueLength: a.snapshot.waiting.length, paused: pausedAfter(m.paused, a.snapshot) }));
    case 'paused':
      return update(s, a.machine, (m) => ({ ...m, paused: a.paused }));
    case 'ask':
      return { ...s, confirm: a.pending };
    case 'settle':
      return { ...s, confirm: undefined };
    case 'status':
      return update(s, a.machine, (m) => ({ ...m, status: a.status }));
    case 'lines':
      return update(s, a.machine, (m) => ({ ...m, lines: a.lines }));
    case 'event':
      return { ...s, turns: applyEvent(s.turns, a.event) };
    case 'turns': {
      // The backend's list is the truth (it also has no-shows and kicks, which no event announces);
      // only live rows newer than anything in it, and not in it, are kept on top.
      const newest = Math.max(0, ...a.turns.map(turnTime));
      const live = s.turns.filter((r) => turnTime(r) > newest && !a.turns.some((t) => sameTurn(r, t)));
      return { ...s, turns: sortTurns([...live, ...a.turns]).slice(0, MAX_TURNS) };
    }
    case 'stats':
      return { ...s, stats: a.stats };
    case 'notice':
      return { ...s, notice: { text: a.text, tone: a.tone } };
  }
}

function sameTurn(a: TurnRow, b: TurnRow): boolean {
  if (a.turnId !== undefined && b.turnId !== undefined) return a.turnId === b.turnId && a.machine === b.machine && (a.kind ?? 'turn') === (b.kind ?? 'turn');
  return a.machine === b.machine && a.player === b.player && (a.startedAt === b.startedAt || (a.endedAt !== undefined && a.endedAt === b.endedAt));
}

const turnTime = (t: TurnRow) => t.endedAt ?? t.startedAt ?? 0;
function sortTurns(rows: TurnRow[]): TurnRow[] {
  return [...rows].sort((a, b) => turnTime(b) - turnTime(a));
}

/**
 * A turn_started opens a row; a turn_ended closes the newest open row of that
 * machine and player (or adds one). Events come live and again from the event
 * history (at load and after a reconnect), in any order: an event already in
 * the table changes nothing, and rows stay newest first, so an old event
 * takes its place in time (or none, past the last row) instead of the top.
 */
export function applyEvent(turns: TurnRow[], e: EventPayload): TurnRow[] {
  const id = e.turn !== undefined ? { turnId: e.turn } : {};
  if (e.type === 'turn_started') {
    if (e.turn !== undefined && turns.some((t) => t.turnId === e.turn && t.machine === e.machine)) return turns;
    // Without a turn id (a node from before them): the same name starting at the same moment is the same turn.
    if (e.turn === undefined && turns.some((t) => t.machine === e.machine && t.player === e.player && t.startedAt === e.at)) return turns;
    return withRow(turns, { machine: e.machine, player: e.player, startedAt: e.at, endedAt: undefined, result: undefined, ...id });
  }
  // By turn id when the node says it (names are not unique), else the newest open row of that name.
  const i = e.turn !== undefined
    ? turns.findIndex((t) => t.machine === e.machine && t.turnId === e.turn)
    : turns.findIndex((t) => t.machine === e.machine && t.player === e.player && (t.endedAt === undefined || t.endedAt === e.at));
  if (i === -1) return withRow(turns, { machine: e.machine, player: e.player, startedAt: undefined, endedAt: e.at, result: e.result, ...id });
  if (turns[i]!.result !== undefined) return turns; // the backend's row (or this event, again) already has the result
  const next = [...turns];
  next[i] = { ...next[i]!, endedAt: e.at, result: e.result };
  return sortTurns(next);
}

/** `row` added in its place by time; the table unchanged when it falls past the last row. */
function withRow(turns: TurnRow[], row: TurnRow): TurnRow[] {
  const next = sortTurns([row, ...turns]).slice(0, MAX_TURNS);
  return next.includes(row) ? next : turns;
}

/** claw.admin.turns rows (validated with the protocol's AdminTurnRow) as table rows. */
export function rowsFromAdmin(rows: readonly AdminTurnRow[]): TurnRow[] {
  return rows.map((r) => {
    const row: TurnRow = {
      machine: r.machine, player: r.name, startedAt: r.startedAt ?? undefined, endedAt: r.endedAt ?? undefined, result: r.result ?? undefined,
      kind: r.kind ?? 'turn',
    };
    if ((r.kind ?? 'turn') === 'turn') row.turnId = r.id;
    if (r.reason !== undefined) row.reason = r.reason;
    if (typeof r.endReason === 'string') row.endReason = r.endReason;
    if (typeof r.blockedUntil === 'number') row.blockedUntil = r.blockedUntil;
    if (r.endedBy !== null) row.endedBy = r.endedBy;
    return row;
  });
}

/** Whether a node status says the machine is playing the turn of `r` (by turn id when both have one, else by name). */
function playsTurn(status: StatusPayload, r: TurnRow): boolean {
  if (status.state !== 'controlled') return false;
  if (r.turnId !== undefined && status.turn !== undefined) return status.turn === r.turnId;
  return status.player === undefined || status.player === r.player;
}

const END_REASON_TEXT: Record<string, string> = {
  left: 'the player left', gone: 'the player was gone', skip: 'by staff', kick: 'kicked by staff', overrun: 'no result from the machine',
  silent: 'the machine reported no result', node_lost: 'the machine went away', start_failed: 'the machine did not start',
};

/**
 * What the turns table's last column says about a row: the result and why,
 * or what happened to a player without a turn. `status`: the machine's node
 * status, when known. A turn with no end recorded is "playing…" only while
 * that status says the machine plays it: a turn_started from the history
 * whose end no event reported (the node was lost, the backend ended it) must
 * not look as if it were still running.
 */
export function rowOutcome(r: TurnRow, now = Date.now(), status?: StatusPayload): string {
  if (r.kind === 'removed') {
    switch (r.reason) {
      case 'timeout': return 'no-show (did not confirm)';
      case 'grace_expired': return 'away too long (place lost)';
      case 'kicked': {
        const block = r.blockedUntil !== undefined && r.blockedUntil > now ? `, blocked for ${Math.ceil((r.blockedUntil - now) / 60_000)} min` : '';
        return `kicked${r.endedBy ? ` by ${r.endedBy}` : ''}${block}`;
      }
      default: return `removed (${r.reason ?? '?'})`;
    }
  }
  if (r.result === undefined) return r.endedAt !== undefined || (status !== undefined && !playsTurn(status, r)) ? 'ended' : 'playing…';
  // A result the machine reported needs no explanation; the others say why.
  const why = r.endReason !== undefined && r.endReason !== 'node' ? END_REASON_TEXT[r.endReason] : undefined;
  return why ? `${r.result} (${why})` : r.result;
}

/** The block a kick asks for, from the dialog's minutes field: none (empty or 0), minutes, or why not. */
export function parseBlockMinutes(text: string, max = 1440): { ok: true; minutes: number | undefined } | { ok: false; problem: string } {
  const t = text.trim();
  if (t === '' || t === '0') return { ok: true, minutes: undefined };
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) return { ok: false, problem: 'The block must be a number of minutes (0 for none).' };
  if (n > max) return { ok: false, problem: `A block can last at most ${max} minutes.` };
  return { ok: true, minutes: n };
}

/** Messages per second between two samples of a monotonically growing counter (undefined across a counter reset). */
export function ratePerSecond(prev: { count: number; at: number } | undefined, next: { count: number; at: number }): number | undefined {
  if (!prev || next.at <= prev.at || next.count < prev.count) return undefined;
  return ((next.count - prev.count) * 1000) / (next.at - prev.at);
}

/** The player an operator's Skip would hit now: the one playing, else the one being asked to get ready. */
export function skipTarget(m: OperatorMachine): string | undefined {
  return m.queue?.current?.name ?? (m.status?.state === 'controlled' ? m.status.player : undefined) ?? askedOf(m)?.name;
}

/**
 * Who is being asked to get ready. Exact when the backend marks the entry
 * (`readyDeadline`, ms, on that `waiting` item: passthrough, sent by backends
 * that have it); otherwise inferred from the protocol's rule that the front
 * player is asked as soon as the machine is ready, not paused and nobody
 * plays (then `deadline` is undefined). The inference is wrong only for the
 * moment after a failed start_turn, when the backend waits for the node.
 */
export function askedOf(m: OperatorMachine): { name: string; deadline: number | undefined } | undefined {
  const q = m.queue;
  if (!q) return undefined;
  for (const w of q.waiting) {
    const d = (w as { readyDeadline?: unknown }).readyDeadline;
    if (typeof d === 'number') return { name: w.name, deadline: d };
  }
  const front = q.waiting[0];
  if (!front || q.current || m.paused || q.state !== 'ready' || m.status?.state === 'controlled') return undefined;
  return { name: front.name, deadline: undefined };
}

const authidOf = (w: unknown): string | undefined => {
  const a = (w as { authid?: unknown }).authid;
  return typeof a === 'string' ? a : undefined;
};

/** Undefined when the confirmed action still hits whom the operator meant; otherwise why it would not. */
export function confirmProblem(s: DashboardState, p: PendingAction): string | undefined {
  const m = s.machines[p.machine];
  if (!m) return `${p.machine} is gone.`;
  if (p.action === 'skip') {
    const now = skipTarget(m);
    if (now === undefined) return `Nobody is playing or being asked on ${p.machine} any more.`;
    return now === p.player ? undefined : `The turn on ${p.machine} changed (now ${now}); nothing was skipped.`;
  }
  const inQueue = [...(m.queue?.waiting ?? []), ...(m.queue?.current ? [m.queue.current] : [])].some((w) => authidOf(w) === p.authid);
  return inQueue ? undefined : `${p.name} is no longer in the queue of ${p.machine}.`;
}

/** The confirmation's words: a title, what will happen, and the confirm button's label (names the person). */
export function confirmText(p: PendingAction): { title: string; body: string; confirm: string } {
  if (p.action === 'skip') {
    return {
      title: `Skip ${p.player} on ${p.machine}?`,
      body: `${p.player}'s turn (or ready check) ends now with the result "skipped". This can't be undone.`,
      confirm: `Skip ${p.player}`,
    };
  }
  return {
    title: `Kick ${p.name} from ${p.machine}?`,
    body: `${p.name} leaves the queue of ${p.machine} at once; if they are playing, their turn ends "skipped".`,
    confirm: `Kick ${p.name}`,
  };
}
