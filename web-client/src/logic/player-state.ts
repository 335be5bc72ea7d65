// The player page's state and the one function that changes it. Everything
// the page learns (lobby, retained topics, private messages, answers to its
// own calls) becomes an action; the DOM is drawn from the state alone.
// Messages can arrive in any order relative to call results (the backend may
// publish get_ready before request_slot's answer reaches us), so an older,
// weaker fact never overrides a newer, stronger one.
import {
  machineUris,
  type EventPayload, type LinesPayload, type MachineState, type MachineSummary, type PlayerMessage, type QueueSnapshot, type SlotResult,
  type StatusPayload, type TurnResult,
} from '@clawgate/protocol';
import { advanceDrop, dropUnderway, startDrop, type DropProgress } from './drop-progress.js';
import { nodeState, pausedAfter, shownState } from './machine-state.js';

export interface MachineView {
  machine: string;
  /** What the lobby shows (see machine-state.ts). */
  state: MachineState;
  /** State as the machine list last said. */
  listed: MachineState;
  /** An operator paused it (also during a turn, when the backend says so). */
  paused: boolean;
  queueLength: number;
  spectators: number;
  queue: QueueSnapshot | undefined;
  status: StatusPayload | undefined;
  lines: LinesPayload | undefined;
  /** Where the prizes lie (simulated machines): from the lines topic, kept across the motion updates that leave them out. */
  prizes: { x: number; y: number }[] | undefined;
  videoUrl: string | undefined;
}

export type Phase =
  | { kind: 'idle' }
  /** `resumed`: a place this page held before a reload, being reclaimed (not a new join). */
  | { kind: 'joining'; machine: string; resumed?: boolean }
  /** `etaAt`: when the backend expects to ask us (ms; absent: unknown, e.g. paused, or an older backend: then `etaSeconds`). */
  | { kind: 'waiting'; machine: string; position: number; etaSeconds: number; etaAt?: number }
  | { kind: 'get_ready'; machine: string; deadline: number; confirming: boolean }
  | { kind: 'starting'; machine: string }
  /**
   * Our own turn. `endsAt` is unknown for a moment after a reload (the
   * re-join answer says `playing: true` without it; the queue snapshot or the
   * re-sent control message fill it in). `drop` follows the claw after Space.
   */
  | { kind: 'playing'; machine: string; topic: string; endsAt: number | undefined; dropped: boolean; drop: DropProgress | undefined }
  | { kind: 'result'; machine: string; result: TurnResult }
  /** `blockedUntil`: kicked with a block against rejoining until then (ms). */
  | { kind: 'removed'; machine: string; reason: string; blockedUntil?: number };

/** `publication`: the router's publication id, when known (live and history events are the same event by it). */
export interface RecentEvent { machine: string; text: string; at: number; publication?: number }

export interface PlayerState {
  identity: { authid: string; name: string } | undefined;
  machines: Record<string, MachineView>;
  /** Lobby order. */
  order: string[];
  /** The machine on screen (watched, or the one we queue for). */
  selected: string | undefined;
  phase: Phase;
  /** Turn events of the selected machine, newest first. */
  events: RecentEvent[];
  /** The last thing that went wrong, shown until the next success. */
  error: string | undefined;
  /**
   * Counts the places this page has held: a check of the backend's queue
   * started for one place must not remove the next (see `place_check`).
   */
  placeEpoch: number;
}

export const initialState: PlayerState = {
  identity: undefined, machines: {}, order: [], selected: undefined, phase: { kind: 'idle' }, events: [], error: undefined, placeEpoch: 0,
};

export type Action =
  | { type: 'identity'; authid: string; name: string }
  | { type: 'lobby'; machines: MachineSummary[] }
  | { type: 'queue'; snapshot: QueueSnapshot }
  | { type: 'status'; machine: string; status: StatusPayload }
  | { type: 'lines'; machine: string; lines: LinesPayload }
  /** A machine's turn event, live or from the event history; `publication` tells a repeat. */
  | { type: 'event'; event: EventPayload; publication?: number }
  | { type: 'player'; message: PlayerMessage }
  /**
   * Messages to this player the page missed while its connection was down,
   * from the event history, oldest first, up to the newest (also those the
   * new session already got): applied in order, as one change.
   */
  | { type: 'catch_up'; messages: PlayerMessage[] }
  | { type: 'select'; machine: string | undefined }
  | { type: 'join'; machine: string; resumed?: boolean }
  | { type: 'slot'; slot: SlotResult }
  | { type: 'join_failed'; machine: string; error: string }
  | { type: 'ready_sent' }
  | { type: 'ready_confirmed' }
  | { type: 'ready_failed'; error: string }
  | { type: 'dropped' }
  | { type: 'left' }
  | { type: 'dismiss' }
  /** A fresh `claw.queue.get` answer, asked for because a snapshot did not show us (see `placeShown`); `epoch` as when asked. */
  /**
   * A fresh `claw.queue.get` answer about the place we hold: asked because a
   * snapshot did not show us (see `placeShown`), or before reclaiming the
   * place after a reload or reconnect (request_slot would silently join a
   * player whose place is gone). `epoch` as when asked; `wasPlaying`: the
   * page was in its turn before the reload.
   */
  | { type: 'place_check'; snapshot: QueueSnapshot; epoch: number; wasPlaying?: boolean }
  /**
   * The backend said exactly that we hold no place on `machine` (request_slot
   * with `resume` answered not_in_queue); `epoch` as when asked.
   */
  | { type: 'place_gone'; machine: string; epoch: number; wasPlaying?: boolean }
  | { type: 'error'; error: string | undefined };

/** Recent turn events kept (and read from the event history at load). */
export const MAX_EVENTS = 8;

/** The machine this phase is about, if any. */
export function phaseMachine(p: Phase): string | undefined {
  return p.kind === 'idle' ? undefined : p.machine;
}

/** In a queue or in a turn: the page keeps (and on reconnect reclaims) its place. */
export function holdsPlace(p: Phase): boolean {
  return p.kind === 'joining' || p.kind === 'waiting' || p.kind === 'get_ready' || p.kind === 'starting' || p.kind === 'playing';
}

function emptyMachine(machine: string): MachineView {
  return {
    machine, state: 'offline', listed: 'offline', paused: false, queueLength: 0, spectators: 0,
    queue: undefined, status: undefined, lines: undefined, prizes: undefined, videoUrl: undefined,
  };
}

/** Applies `change`, then derives the shown state from the sources. */
function withMachine(s: PlayerState, machine: string, change: (m: MachineView) => MachineView): PlayerState {
  const current = s.machines[machine] ?? emptyMachine(machine);
  const order = s.order.includes(machine) ? s.order : [...s.order, machine].sort();
  const m = change(current);
  const state = shownState(nodeState(m.status?.state, m.queue?.state, m.listed), m.paused);
  return { ...s, order, machines: { ...s.machines, [machine]: { ...m, state } } };
}

const rank: Record<Phase['kind'], number> = { idle: 0, removed: 0, result: 0, joining: 1, waiting: 2, get_ready: 3, starting: 4, playing: 5 };

export function reduce(s: PlayerState, a: Action): PlayerState {
  switch (a.type) {
    case 'identity':
      return { ...s, identity: { authid: a.authid, name: a.name } };

    case 'lobby': {
      let next: PlayerState = { ...s, order: [...new Set([...a.machines.map((m) => m.machine)])].sort() };
      for (const m of a.machines) {
        const extra = (m as Record<string, unknown>).videoUrl;
        const videoUrl = typeof extra === 'string' ? extra : undefined;
        next = withMachine(next, m.machine, (v) => ({
          ...v, listed: m.state, queueLength: m.queueLength, spectators: m.spectators, videoUrl: videoUrl ?? v.videoUrl,
          // The list is polled; the retained snapshot is fresher when we have one.
          paused: v.queue ? v.paused : pausedAfter(v.paused, m),
        }));
      }
      const selected = next.selected ?? (next.order.length === 1 ? next.order[0] : undefined);
      return { ...next, selected };
    }

    case 'queue': {
      const snap = a.snapshot;
      const next = withMachine(s, snap.machine, (m) => ({ ...m, queue: snap, queueLength: snap.waiting.length, paused: pausedAfter(m.paused, snap) }));
      // After a reload during our turn the re-join answer has no endsAt; the snapshot's current turn has it.
      const p = next.phase;
      // Our wait estimate moves with every change of the queue (the backend sends positions only when they change).
      if (p.kind === 'waiting' && p.machine === snap.machine && snap.waiting[p.position] !== undefined) {
        const etaAt = snap.waiting[p.position]!.etaAt;
        if (etaAt !== p.etaAt) return { ...next, phase: withEta({ ...p }, etaAt) };
      }
      if (p.kind === 'playing' && p.machine === snap.machine && p.endsAt === undefined && snap.current && snap.current.endsAt !== null && isMe(next, snap.current)) {
        return { ...next, phase: { ...p, endsAt: snap.current.endsAt } };
      }
      return next;
    }

    case 'status':
      return withMachine(s, a.machine, (m) => ({ ...m, status: a.status }));

    case 'lines': {
      const next = withMachine(s, a.machine, (m) => ({ ...m, lines: a.lines, prizes: a.lines.prizes ?? m.prizes }));
      const p = next.phase;
      if (p.kind !== 'playing' || p.machine !== a.machine) return next;
      // Progress after Space; a drop we did not send (the timer ran out, or one from before a reload) counts too.
      if (p.dropped) return { ...next, phase: { ...p, drop: advanceDrop(p.drop ?? startDrop(), a.lines) } };
      if (dropUnderway(a.lines)) return { ...next, phase: { ...p, dropped: true, drop: advanceDrop(startDrop(), a.lines) } };
      return next;
    }

    case 'event': {
      const e = a.event;
      const text = e.type === 'turn_started' ? `${e.player} started a turn` : `${e.player}: ${e.result ?? 'turn ended'}`;
      const item: RecentEvent = { machine: e.machine, text, at: e.at, ...(a.publication !== undefined ? { publication: a.publication } : {}) };
      // The history repeats what came live, and an older event may come after a newer one: one entry each, newest first.
      if (s.events.some((x) => sameEvent(x, item))) return s;
      const events = [item, ...s.events].sort((x, y) => y.at - x.at).slice(0, MAX_EVENTS);
      return events.includes(item) ? { ...s, events } : s;
    }

    case 'player':
      return onPlayerMessage(s, a.message);

    case 'catch_up':
      // Each message is applied as if it had come live; the rules below already keep a stale one from undoing a stronger fact.
      return a.messages.reduce(onPlayerMessage, s);

    case 'select':
      return { ...s, selected: a.machine, events: a.machine === s.selected ? s.events : [] };

    case 'join':
      if (holdsPlace(s.phase) && phaseMachine(s.phase) === a.machine) return s;
      return {
        ...s, selected: a.machine, error: undefined, placeEpoch: s.placeEpoch + 1,
        phase: a.resumed ? { kind: 'joining', machine: a.machine, resumed: true } : { kind: 'joining', machine: a.machine },
      };

    case 'slot': {
      const { machine, position, etaSeconds } = a.slot;
      // A late answer after we left, got a result or were removed is no longer news.
      if (!holdsPlace(s.phase)) return s;
      // The re-join answer during our own turn (a reload, a reconnect): it is our turn, not position 0.
      if ((a.slot as { playing?: unknown }).playing === true) {
        if (s.phase.kind === 'playing' && s.phase.machine === machine) return s;
        const extra = a.slot as { endsAt?: unknown; topic?: unknown };
        const turn = resumedTurn(s, machine);
        // A backend that puts the turn's endsAt and topic in the answer (optional) saves waiting for the snapshot.
        if (turn.kind === 'playing') {
          if (typeof extra.endsAt === 'number') turn.endsAt = extra.endsAt;
          if (typeof extra.topic === 'string') turn.topic = extra.topic;
        }
        return { ...s, selected: machine, phase: turn, error: undefined };
      }
      // An answer to request_slot never undoes a get_ready or a turn we already know about.
      if (phaseMachine(s.phase) === machine && rank[s.phase.kind] > rank.waiting) {
        // A re-sent deadline (the backend may push it once after a restart) is news for the prompt.
        if (s.phase.kind === 'get_ready' && typeof a.slot.readyDeadline === 'number') return { ...s, phase: { ...s.phase, deadline: a.slot.readyDeadline } };
        return s;
      }
      // Asked to get ready (a reload during the prompt): the prompt with its real deadline.
      if (typeof a.slot.readyDeadline === 'number') {
        return { ...s, selected: machine, phase: { kind: 'get_ready', machine, deadline: a.slot.readyDeadline, confirming: false }, error: undefined };
      }
      return { ...s, phase: withEta({ kind: 'waiting', machine, position, etaSeconds }, a.slot.etaAt), error: undefined };
    }

    case 'join_failed':
      if (s.phase.kind !== 'joining' || s.phase.machine !== a.machine) return { ...s, error: a.error };
      return { ...s, phase: { kind: 'idle' }, error: a.error };

    case 'ready_sent':
      return s.phase.kind === 'get_ready' ? { ...s, phase: { ...s.phase, confirming: true } } : s;

    case 'ready_confirmed':
      return s.phase.kind === 'get_ready' ? { ...s, phase: { kind: 'starting', machine: s.phase.machine }, error: undefined } : s;

    case 'ready_failed':
      return s.phase.kind === 'get_ready' ? { ...s, phase: { ...s.phase, confirming: false }, error: a.error } : { ...s, error: a.error };

    case 'dropped':
      return s.phase.kind === 'playing' && !s.phase.dropped ? { ...s, phase: { ...s.phase, dropped: true, drop: startDrop() } } : s;

    case 'left':
      return holdsPlace(s.phase) ? { ...s, phase: { kind: 'removed', machine: phaseMachine(s.phase)!, reason: 'left' } } : s;

    case 'dismiss':
      return s.phase.kind === 'result' || s.phase.kind === 'removed' ? { ...s, phase: { kind: 'idle' } } : s;

    case 'place_check': {
      const next = reduce(s, { type: 'queue', snapshot: a.snapshot });
      if (a.epoch !== s.placeEpoch || placeShown(next, a.snapshot) !== false) return next;
      // The backend no longer has us (a message was lost while we were away): say so, and free the page for another machine.
      const p = next.phase as Exclude<Phase, { kind: 'idle' }>;
      const reason = p.kind === 'playing' || p.kind === 'starting' || a.wasPlaying ? 'turn_over' : 'gone';
      return { ...next, phase: { kind: 'removed', machine: p.machine, reason } };
    }

    case 'place_gone': {
      const p = s.phase;
      if (a.epoch !== s.placeEpoch || !holdsPlace(p) || phaseMachine(p) !== a.machine) return s;
      const reason = p.kind === 'playing' || p.kind === 'starting' || a.wasPlaying ? 'turn_over' : 'gone';
      return { ...s, phase: { kind: 'removed', machine: a.machine, reason } };
    }

    case 'error':
      return { ...s, error: a.error };
  }
}

function sameEvent(a: RecentEvent, b: RecentEvent): boolean {
  if (a.publication !== undefined && b.publication !== undefined) return a.publication === b.publication;
  return a.machine === b.machine && a.at === b.at && a.text === b.text;
}

/** A waiting phase with the backend's estimate (`etaAt` absent: unknown). */
function withEta(p: Extract<Phase, { kind: 'waiting' }>, etaAt: number | undefined): Phase {
  const { etaAt: _old, ...rest } = p;
  return typeof etaAt === 'number' ? { ...rest, etaAt } : rest;
}

/** Whether a queue entry (`current` or a `waiting` item) is this player: by authid when shown (operators), else by name. */
function isMe(s: PlayerState, entry: { name: string; authid?: unknown }): boolean {
  if (!s.identity) return false;
  if (typeof entry.authid === 'string') return entry.authid === s.identity.authid;
  return entry.name === s.identity.name;
}

/** Our turn, resumed from a re-join answer: the topic is the protocol's, endsAt from the snapshot if it has it. */
function resumedTurn(s: PlayerState, machine: string): Phase {
  if (!s.identity) return { kind: 'starting', machine };
  const current = s.machines[machine]?.queue?.current;
  const endsAt = current && current.endsAt !== null && isMe(s, current) ? current.endsAt : undefined;
  const lines = s.machines[machine]?.lines;
  const underway = lines !== undefined && dropUnderway(lines);
  return {
    kind: 'playing', machine, topic: machineUris(machine).control(s.identity.authid), endsAt,
    dropped: underway, drop: underway ? advanceDrop(startDrop(), lines) : undefined,
  };
}

/**
 * Whether `snapshot` shows the place this page believes it holds on that
 * machine: undefined when there is nothing to check (no place there, still
 * a new join, no identity), else true or false. Names are not unique, so a
 * `true` may be someone of the same name: the check only ever frees a place
 * that is certainly gone, never invents one.
 */
export function placeShown(s: PlayerState, snapshot: QueueSnapshot): boolean | undefined {
  const p = s.phase;
  // A new join may not be in any snapshot yet; a place held before a reload (resumed) must be.
  if (!s.identity || !holdsPlace(p) || (p.kind === 'joining' && !p.resumed) || phaseMachine(p) !== snapshot.machine) return undefined;
  if (snapshot.current && isMe(s, snapshot.current)) return true;
  return snapshot.waiting.some((w) => isMe(s, w));
}

/** What the turn panel shows for `machine`: our phase there, or that we hold a place on another machine. */
export type MachineViewPhase = Phase | { kind: 'elsewhere'; machine: string; elsewhere: Exclude<Phase, { kind: 'idle' }> };

export function phaseFor(s: PlayerState, machine: string): MachineViewPhase {
  const p = s.phase;
  if (p.kind === 'idle' || p.machine === machine) return p;
  // Only a place we still hold elsewhere blocks this machine; a result or a removal there does not.
  if (holdsPlace(p)) return { kind: 'elsewhere', machine, elsewhere: p };
  return { kind: 'idle' };
}

/** The get-ready prompt, wherever the player is looking. */
export function readyPrompt(s: PlayerState): { machine: string; deadline: number; confirming: boolean } | undefined {
  const p = s.phase;
  return p.kind === 'get_ready' ? { machine: p.machine, deadline: p.deadline, confirming: p.confirming } : undefined;
}

export const BASE_TITLE = 'ClawGate: play a claw machine';

/** The tab title: it tells a player in another tab that it is time. */
export function pageTitle(s: PlayerState): string {
  switch (s.phase.kind) {
    case 'get_ready': return '⏰ Get ready! – ClawGate';
    case 'starting':
    case 'playing': return '🕹 Your turn – ClawGate';
    default: return BASE_TITLE;
  }
}

function onPlayerMessage(s: PlayerState, m: PlayerMessage): PlayerState {
  const next = applyPlayerMessage(s, m);
  // A place that did not come from this page's own join (another tab joined, or the page had forgotten) is a new place.
  const fresh = holdsPlace(next.phase) && (!holdsPlace(s.phase) || phaseMachine(s.phase) !== phaseMachine(next.phase));
  return fresh && next.placeEpoch === s.placeEpoch ? { ...next, placeEpoch: s.placeEpoch + 1 } : next;
}

function applyPlayerMessage(s: PlayerState, m: PlayerMessage): PlayerState {
  const selected = s.selected ?? m.machine;
  // The end of a place on another machine (another tab's queue) does not end the place this page holds.
  const otherPlace = holdsPlace(s.phase) && phaseMachine(s.phase) !== m.machine;
  switch (m.type) {
    case 'position':
      // A position update while we already hold the turn is stale.
      if (phaseMachine(s.phase) === m.machine && rank[s.phase.kind] > rank.waiting) return s;
      return { ...s, selected, phase: withEta({ kind: 'waiting', machine: m.machine, position: m.position, etaSeconds: m.etaSeconds }, m.etaAt) };
    case 'get_ready':
      if (phaseMachine(s.phase) === m.machine && (s.phase.kind === 'starting' || s.phase.kind === 'playing')) return s;
      // A re-sent prompt (after a reconnect) keeps a confirmation in flight.
      if (s.phase.kind === 'get_ready' && s.phase.machine === m.machine) return { ...s, phase: { ...s.phase, deadline: m.deadline } };
      return { ...s, selected: m.machine, phase: { kind: 'get_ready', machine: m.machine, deadline: m.deadline, confirming: false } };
    case 'control':
      if (m.control) {
        // Re-sent during our turn (after a reload): take the topic and the time, keep what we know about a drop.
        if (s.phase.kind === 'playing' && s.phase.machine === m.machine) return { ...s, phase: { ...s.phase, topic: m.topic, endsAt: m.endsAt }, error: undefined };
        return { ...s, selected: m.machine, phase: { kind: 'playing', machine: m.machine, topic: m.topic, endsAt: m.endsAt, dropped: false, drop: undefined }, error: undefined };
      }
      if (otherPlace) return s;
      return { ...s, phase: { kind: 'result', machine: m.machine, result: m.result } };
    case 'removed':
      if (otherPlace) return s;
      return { ...s, phase: { kind: 'removed', machine: m.machine, reason: m.reason, ...(m.blockedUntil !== undefined ? { blockedUntil: m.blockedUntil } : {}) } };
  }
}
