// The operator dashboard's state: every machine with its queue and status,
// recent turns (built from the events topics, seeded from claw.admin.turns
// when the backend offers it), and router statistics.
import type { EventPayload, LinesPayload, MachineState, MachineSummary, QueueSnapshot, StatusPayload, TurnResult } from '@clawgate/protocol';

export interface OperatorMachine {
  machine: string;
  state: MachineState;
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
}

export const initialDashboard: DashboardState = { machines: {}, order: [], turns: [], stats: undefined, notice: undefined };

export type DashboardAction =
  | { type: 'machines'; machines: MachineSummary[] }
  | { type: 'queue'; snapshot: QueueSnapshot }
  | { type: 'status'; machine: string; status: StatusPayload }
  | { type: 'lines'; machine: string; lines: LinesPayload }
  | { type: 'event'; event: EventPayload }
  | { type: 'turns'; turns: TurnRow[] }
  | { type: 'stats'; stats: RouterStats }
  | { type: 'notice'; text: string; tone: 'ok' | 'bad' };

const MAX_TURNS = 30;

function blank(machine: string): OperatorMachine {
  return { machine, state: 'offline', queueLength: 0, spectators: 0, status: undefined, queue: undefined, lines: undefined };
}

function derivedState(m: OperatorMachine): MachineState {
  if (m.queue?.state === 'paused') return 'paused';
  return m.status?.state ?? m.queue?.state ?? m.state;
}

function update(s: DashboardState, machine: string, f: (m: OperatorMachine) => OperatorMachine): DashboardState {
  const m = f(s.machines[machine] ?? blank(machine));
  const order = s.order.includes(machine) ? s.order : [...s.order, machine].sort();
  return { ...s, order, machines: { ...s.machines, [machine]: { ...m, state: derivedState(m) } } };
}

export function reduceDashboard(s: DashboardState, a: DashboardAction): DashboardState {
  switch (a.type) {
    case 'machines': {
      let next = s;
      for (const m of a.machines) next = update(next, m.machine, (v) => ({ ...v, state: m.state, queueLength: m.queueLength, spectators: m.spectators }));
      return next;
    }
    case 'queue':
      return update(s, a.snapshot.machine, (m) => ({ ...m, queue: a.snapshot, queueLength: a.snapshot.waiting.length }));
    case 'status':
      return update(s, a.machine, (m) => ({ ...m, status: a.status }));
    case 'lines':
      return update(s, a.machine, (m) => ({ ...m, lines: a.lines }));
    case 'event':
      return { ...s, turns: applyEvent(s.turns, a.event) };
    case 'turns': {
      // Seeded history merges under what live events already told us.
      const merged = [...s.turns];
      for (const t of a.turns) {
        if (!merged.some((r) => sameTurn(r, t))) merged.push(t);
      }
      return { ...s, turns: sortTurns(merged).slice(0, MAX_TURNS) };
    }
    case 'stats':
      return { ...s, stats: a.stats };
    case 'notice':
      return { ...s, notice: { text: a.text, tone: a.tone } };
  }
}

function sameTurn(a: TurnRow, b: TurnRow): boolean {
  return a.machine === b.machine && a.player === b.player && (a.startedAt === b.startedAt || (a.endedAt !== undefined && a.endedAt === b.endedAt));
}

const turnTime = (t: TurnRow) => t.endedAt ?? t.startedAt ?? 0;
function sortTurns(rows: TurnRow[]): TurnRow[] {
  return [...rows].sort((a, b) => turnTime(b) - turnTime(a));
}

/** A turn_started opens a row; a turn_ended closes the newest open row of that machine and player (or adds one). */
export function applyEvent(turns: TurnRow[], e: EventPayload): TurnRow[] {
  if (e.type === 'turn_started') {
    return [{ machine: e.machine, player: e.player, startedAt: e.at, endedAt: undefined, result: undefined }, ...turns].slice(0, MAX_TURNS);
  }
  const i = turns.findIndex((t) => t.machine === e.machine && t.player === e.player && t.endedAt === undefined);
  if (i === -1) return [{ machine: e.machine, player: e.player, startedAt: undefined, endedAt: e.at, result: e.result }, ...turns].slice(0, MAX_TURNS);
  const next = [...turns];
  next[i] = { ...next[i]!, endedAt: e.at, result: e.result };
  return next;
}

/** Messages per second between two samples of a monotonically growing counter (undefined across a counter reset). */
export function ratePerSecond(prev: { count: number; at: number } | undefined, next: { count: number; at: number }): number | undefined {
  if (!prev || next.at <= prev.at || next.count < prev.count) return undefined;
  return ((next.count - prev.count) * 1000) / (next.at - prev.at);
}
