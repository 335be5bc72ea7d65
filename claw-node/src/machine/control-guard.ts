// The cheap first look at every control EVENT, before zod and before the turn
// logic: anything a player page would never send is dropped here, counted,
// and logged once per publisher and reason. It reads at most a handful of
// fields and never walks into nested values, so its cost does not grow with
// what a publisher sends (the WebSocket's maxPayload bounds the decoding
// before it, see @clawgate/runtime's wamp/transport.ts).
//
// A control message is `args = [{command: "<name>"}]`, no kwargs. Objects are
// passthrough in the protocol (a newer page may add a field), so a few more
// flat fields are let through; a nested object or array is not.

/** Most fields a control payload may have. */
export const MAX_CONTROL_FIELDS = 8;
/** Longest string in a control payload (any field). */
export const MAX_CONTROL_STRING = 64;
/** Longest `command` (the longest command name is 8 characters). */
export const MAX_COMMAND_LENGTH = 16;

export type ControlVerdict = 'ok' | 'oversized' | 'malformed';
export type DropReason = Exclude<ControlVerdict, 'ok'>;

/** What to do with a control EVENT's args and kwargs. */
export function screenControl(args: unknown, kwargs: unknown): ControlVerdict {
  if (!Array.isArray(args)) return 'malformed';
  if (args.length !== 1) return args.length > 1 ? 'oversized' : 'malformed';
  if (kwargs !== undefined && kwargs !== null) {
    if (typeof kwargs !== 'object') return 'malformed';
    for (const _ in kwargs) return 'oversized';
  }
  const p = args[0] as unknown;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'malformed';
  let fields = 0;
  for (const k in p) {
    if (++fields > MAX_CONTROL_FIELDS) return 'oversized';
    const v = (p as Record<string, unknown>)[k];
    if (typeof v === 'string') { if (v.length > MAX_CONTROL_STRING) return 'oversized'; }
    else if (typeof v === 'object' && v !== null) return 'malformed';
  }
  const command = (p as { command?: unknown }).command;
  if (typeof command !== 'string') return 'malformed';
  if (command.length > MAX_COMMAND_LENGTH) return 'oversized';
  return 'ok';
}

/** Publishers whose drops are logged individually; beyond that one line says logging stopped. */
export const MAX_LOGGED_PUBLISHERS = 1000;

/** Counts drops and decides which are logged: the first per publisher and reason. Bounded memory. */
export class DropLedger {
  readonly dropped: Record<DropReason, number> = { oversized: 0, malformed: 0 };
  private readonly logged = new Set<string>();
  private saturatedLogged = false;

  constructor(private readonly log: (msg: string, extra: Record<string, unknown>) => void, private readonly maxPublishers = MAX_LOGGED_PUBLISHERS) {}

  drop(reason: DropReason, publisher: string): void {
    this.dropped[reason]++;
    const key = `${reason}\u0000${publisher}`;
    if (this.logged.has(key)) return;
    if (this.logged.size >= this.maxPublishers) {
      if (!this.saturatedLogged) { this.saturatedLogged = true; this.log('control messages dropped from too many publishers: no longer logged one by one', { publishers: this.logged.size }); }
      return;
    }
    this.logged.add(key);
    this.log('control message dropped (logged once per publisher and reason)', { reason, publisher });
  }
}
