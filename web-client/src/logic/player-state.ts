// The player page's state and the one function that changes it. Everything
// the page learns (lobby, retained topics, private messages, answers to its
// own calls) becomes an action; the DOM is drawn from the state alone.
// Messages can arrive in any order relative to call results (the backend may
// publish get_ready before request_slot's answer reaches us), so an older,
// weaker fact never overrides a newer, stronger one.
import type {
  EventPayload, LinesPayload, MachineState, MachineSummary, PlayerMessage, QueueSnapshot, SlotResult, StatusPayload, TurnResult,
} from '@clawgate/protocol';

export interface MachineView {
  machine: string;
  state: MachineState;
  queueLength: number;
  spectators: number;
  queue: QueueSnapshot | undefined;
  status: StatusPayload | undefined;
  lines: LinesPayload | undefined;
  videoUrl: string | undefined;
}

export type Phase =
  | { kind: 'idle' }
  | { kind: 'joining'; machine: string }
  | { kind: 'waiting'; machine: string; position: number; etaSeconds: number }
  | { kind: 'get_ready'; machine: string; deadline: number; confirming: boolean }
  | { kind: 'starting'; machine: string }
  | { kind: 'playing'; machine: string; topic: string; endsAt: number; dropped: boolean }
  | { kind: 'result'; machine: string; result: TurnResult }
  | { kind: 'removed'; machine: string; reason: string };

export interface RecentEvent { machine: string; text: string; at: number }

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
}

export const initialState: PlayerState = {
  identity: undefined, machines: {}, order: [], selected: undefined, phase: { kind: 'idle' }, events: [], error: undefined,
};

export type Action =
  | { type: 'identity'; authid: string; name: string }
  | { type: 'lobby'; machines: MachineSummary[] }
  | { type: 'queue'; snapshot: QueueSnapshot }
  | { type: 'status'; machine: string; status: StatusPayload }
  | { type: 'lines'; machine: string; lines: LinesPayload }
  | { type: 'event'; event: EventPayload }
  | { type: 'player'; message: PlayerMessage }
  | { type: 'select'; machine: string | undefined }
  | { type: 'join'; machine: string }
  | { type: 'slot'; slot: SlotResult }
  | { type: 'join_failed'; machine: string; error: string }
  | { type: 'ready_sent' }
  | { type: 'ready_confirmed' }
  | { type: 'ready_failed'; error: string }
  | { type: 'dropped' }
  | { type: 'left' }
  | { type: 'dismiss' }
  | { type: 'error'; error: string | undefined };

const MAX_EVENTS = 8;

/** The machine this phase is about, if any. */
export function phaseMachine(p: Phase): string | undefined {
  return p.kind === 'idle' ? undefined : p.machine;
}

/** In a queue or in a turn: the page keeps (and on reconnect reclaims) its place. */
export function holdsPlace(p: Phase): boolean {
  return p.kind === 'joining' || p.kind === 'waiting' || p.kind === 'get_ready' || p.kind === 'starting' || p.kind === 'playing';
}

function emptyMachine(machine: string): MachineView {
  return { machine, state: 'offline', queueLength: 0, spectators: 0, queue: undefined, status: undefined, lines: undefined, videoUrl: undefined };
}

function withMachine(s: PlayerState, machine: string, change: (m: MachineView) => MachineView): PlayerState {
  const current = s.machines[machine] ?? emptyMachine(machine);
  const order = s.order.includes(machine) ? s.order : [...s.order, machine].sort();
  return { ...s, order, machines: { ...s.machines, [machine]: change(current) } };
}

/** The lobby state: an operator's pause wins over the node's own status. */
function lobbyState(m: MachineView): MachineState {
  if (m.queue?.state === 'paused') return 'paused';
  return m.status?.state ?? m.queue?.state ?? m.state;
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
        next = withMachine(next, m.machine, (v) => {
          const u = { ...v, state: m.state, queueLength: m.queueLength, spectators: m.spectators, videoUrl: videoUrl ?? v.videoUrl };
          return { ...u, state: v.status || v.queue ? lobbyState(u) : m.state };
        });
      }
      const selected = next.selected ?? (next.order.length === 1 ? next.order[0] : undefined);
      return { ...next, selected };
    }

    case 'queue':
      return withMachine(s, a.snapshot.machine, (m) => {
        const u = { ...m, queue: a.snapshot, queueLength: a.snapshot.waiting.length };
        return { ...u, state: lobbyState(u) };
      });

    case 'status':
      return withMachine(s, a.machine, (m) => {
        const u = { ...m, status: a.status };
        return { ...u, state: lobbyState(u) };
      });

    case 'lines':
      return withMachine(s, a.machine, (m) => ({ ...m, lines: a.lines }));

    case 'event': {
      const e = a.event;
      const text = e.type === 'turn_started' ? `${e.player} started a turn` : `${e.player}: ${e.result ?? 'turn ended'}`;
      return { ...s, events: [{ machine: e.machine, text, at: e.at }, ...s.events].slice(0, MAX_EVENTS) };
    }

    case 'player':
      return onPlayerMessage(s, a.message);

    case 'select':
      return { ...s, selected: a.machine, events: a.machine === s.selected ? s.events : [] };

    case 'join':
      if (holdsPlace(s.phase) && phaseMachine(s.phase) === a.machine) return s;
      return { ...s, selected: a.machine, phase: { kind: 'joining', machine: a.machine }, error: undefined };

    case 'slot': {
      const { machine, position, etaSeconds } = a.slot;
      // An answer to request_slot never undoes a get_ready or a turn we already know about.
      if (phaseMachine(s.phase) === machine && rank[s.phase.kind] > rank.waiting) return s;
      // A late answer after we left, got a result or were removed is no longer news.
      if (!holdsPlace(s.phase)) return s;
      return { ...s, phase: { kind: 'waiting', machine, position, etaSeconds }, error: undefined };
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
      return s.phase.kind === 'playing' ? { ...s, phase: { ...s.phase, dropped: true } } : s;

    case 'left':
      return holdsPlace(s.phase) ? { ...s, phase: { kind: 'removed', machine: phaseMachine(s.phase)!, reason: 'left' } } : s;

    case 'dismiss':
      return s.phase.kind === 'result' || s.phase.kind === 'removed' ? { ...s, phase: { kind: 'idle' } } : s;

    case 'error':
      return { ...s, error: a.error };
  }
}

function onPlayerMessage(s: PlayerState, m: PlayerMessage): PlayerState {
  const selected = s.selected ?? m.machine;
  switch (m.type) {
    case 'position':
      // A position update while we already hold the turn is stale.
      if (phaseMachine(s.phase) === m.machine && rank[s.phase.kind] > rank.waiting) return s;
      return { ...s, selected, phase: { kind: 'waiting', machine: m.machine, position: m.position, etaSeconds: m.etaSeconds } };
    case 'get_ready':
      if (phaseMachine(s.phase) === m.machine && (s.phase.kind === 'starting' || s.phase.kind === 'playing')) return s;
      return { ...s, selected: m.machine, phase: { kind: 'get_ready', machine: m.machine, deadline: m.deadline, confirming: false } };
    case 'control':
      if (m.control) return { ...s, selected: m.machine, phase: { kind: 'playing', machine: m.machine, topic: m.topic, endsAt: m.endsAt, dropped: false }, error: undefined };
      return { ...s, phase: { kind: 'result', machine: m.machine, result: m.result } };
    case 'removed':
      return { ...s, phase: { kind: 'removed', machine: m.machine, reason: m.reason } };
  }
}
