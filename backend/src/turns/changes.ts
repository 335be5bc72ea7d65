// What a machine's owner is told after a change another instance (or this
// one) committed: the messages for players that the change implies and that
// the stored state cannot say later (a `removed`, a turn's result), and who
// is to be told their state again. The owner sends them, then refreshes the
// machine from the store, so one instance speaks for a machine and its
// players' positions come in order. Between instances this travels as the
// payload of a PostgreSQL NOTIFY sent inside the changing transaction (so it
// arrives only once that committed).
import type { PlayerMessage } from '@clawgate/protocol';

export const CHANGES_CHANNEL = 'clawgate_changes';

export interface Note { to: string; message: PlayerMessage }

export interface Change {
  /** Messages to send first, in order. */
  notes?: Note[];
  /** Players to be told their position again (and their prompt or control). */
  resendTo?: string[];
  /** Players to be told their prompt or control again (not their position). */
  resendState?: string[];
  /** Players whose last sent position is to be forgotten (they left the waiting list meanwhile). */
  forget?: string[];
}

/** Everything asked of one refresh of a machine (several changes merged). */
export interface RefreshRequest {
  notes: Note[];
  resendAll: boolean;
  resendTo: Set<string>;
  resendState: Set<string>;
  forget: Set<string>;
}

export function emptyRequest(): RefreshRequest {
  return { notes: [], resendAll: false, resendTo: new Set(), resendState: new Set(), forget: new Set() };
}

export function mergeChange(into: RefreshRequest, c: Change & { resendAll?: boolean }): RefreshRequest {
  if (c.notes) into.notes.push(...c.notes);
  if (c.resendAll) into.resendAll = true;
  for (const a of c.resendTo ?? []) into.resendTo.add(a);
  for (const a of c.resendState ?? []) into.resendState.add(a);
  for (const a of c.forget ?? []) into.forget.add(a);
  return into;
}

/** NOTIFY payloads are at most 8000 bytes: a change that would not fit travels without its notes (the refresh still happens). */
const MAX_PAYLOAD = 7900;

export function encodeChange(machine: string, c: Change): string {
  const text = JSON.stringify({ m: machine, ...c });
  return text.length <= MAX_PAYLOAD ? text : JSON.stringify({ m: machine, resendTo: c.resendTo?.slice(0, 50), forget: c.forget?.slice(0, 50) });
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/** The machine and change of a payload, or undefined for anything else. */
export function decodeChange(payload: string): { machine: string; change: Change } | undefined {
  let v: unknown;
  try { v = JSON.parse(payload); } catch { return undefined; }
  if (v === null || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.m !== 'string') return undefined;
  const notes = Array.isArray(o.notes)
    ? (o.notes as unknown[]).filter((n): n is Note => n !== null && typeof n === 'object' && typeof (n as Note).to === 'string' && typeof (n as Note).message === 'object')
    : undefined;
  return { machine: o.m, change: { notes, resendTo: strings(o.resendTo), resendState: strings(o.resendState), forget: strings(o.forget) } };
}
