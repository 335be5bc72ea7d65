// What the backend does on each new router session: subscribe node topics
// and meta events, read the router's picture (sessions with their roles,
// registrations; retained statuses arrive before that answer), hand it to
// the coordinator (which claims and takes over machines), then register the
// procedures. Meta events that arrive while the picture is being read are
// held and replayed after it.
//
// The procedures are shared registrations when the store admits several
// backends (PostgreSQL): every instance registers them with invoke
// `roundrobin`, so calls spread over the instances and any one serves any
// call; the router drops a dead instance's registration with its session, so
// the next call goes to another. On SQLite they are `single`, as before: a
// second backend on the realm is refused by the router (it would be a second
// queue service with its own file).
import { ClawErrors, MACHINE_PREFIX, Procedures, machineOf, machineUris } from '@clawgate/protocol';
import { autobahn, type AutobahnSession, type InvocationDetails } from '@clawgate/runtime';
import { parseSettingsPatch, type BackendConfig } from './config.js';
import { ClawFault } from './errors.js';
import type { Logger } from './logger.js';
import type { Coordinator, RouterSnapshot, Wire } from './turns/coordinator.js';
import { refuseIfServedElsewhere, registerOrTakeOver } from './register-own.js';

const STATUS_PATTERN = `${MACHINE_PREFIX}.status`;
const EVENTS_PATTERN = `${MACHINE_PREFIX}.events`;
const PRIVILEGED = new Set(['operator', 'backend']);

export type InvokePolicy = 'single' | 'roundrobin';

export function wireFor(session: AutobahnSession, callTimeoutMs: number): Wire {
  return {
    publish(topic, payload, retain) {
      try { session.publish(topic, [payload], {}, retain ? { retain: true } : {}); } catch { /* session closing: the next attach republishes */ }
    },
    async call(procedure, payload) {
      return session.call(procedure, [payload], {}, { timeout: callTimeoutMs });
    },
  };
}

async function readSnapshot(session: AutobahnSession): Promise<RouterSnapshot> {
  const ids = (await session.call('wamp.session.list')) as number[];
  const sessions = (await Promise.all(ids.filter((id) => id !== session.id).map(async (id) => {
    try {
      const d = (await session.call('wamp.session.get', [id])) as { session: number; authid: string; authrole?: string };
      return { session: d.session, authid: d.authid, authrole: d.authrole };
    } catch { return undefined; } // left meanwhile
  }))).filter((s): s is { session: number; authid: string; authrole: string | undefined } => s !== undefined);
  const list = (await session.call('wamp.registration.list')) as { exact: number[] };
  const registrations = (await Promise.all(list.exact.map(async (id) => {
    try {
      const r = (await session.call('wamp.registration.get', [id])) as { id: number; uri: string };
      return machineOf(r.uri, 'start_turn') ? { id: r.id, uri: r.uri } : undefined;
    } catch { return undefined; }
  }))).filter((r): r is { id: number; uri: string } => r !== undefined);
  return { self: session.id, sessions, registrations };
}

export async function bindSession(session: AutobahnSession, coordinator: Coordinator, config: BackendConfig, log: Logger, invoke: InvokePolicy, ours: ReadonlySet<number> = new Set()): Promise<void> {
  const held: (() => void)[] = [];
  let attached = false;
  const meta = (fn: () => void) => { if (attached) run(fn); else held.push(fn); };
  const run = (fn: () => void) => { try { fn(); } catch (e) { log.error({ err: (e as Error).message }, 'handling an event failed'); } };

  await session.subscribe(STATUS_PATTERN, (args, _kw, details) => {
    const id = details.topic ? machineOf(details.topic, 'status') : undefined;
    if (id) run(() => coordinator.status(id, args?.[0]));
  }, { match: 'wildcard', get_retained: true });
  await session.subscribe(EVENTS_PATTERN, (args, _kw, details) => {
    const id = details.topic ? machineOf(details.topic, 'events') : undefined;
    if (id) run(() => coordinator.nodeEvent(id, args?.[0]));
  }, { match: 'wildcard' });
  await session.subscribe('wamp.session.on_join', (args) => {
    const d = args?.[0] as { session?: number; authid?: string; authrole?: string } | undefined;
    if (typeof d?.session === 'number' && typeof d.authid === 'string') meta(() => coordinator.sessionJoined(d.session!, d.authid!, d.authrole));
  });
  await session.subscribe('wamp.session.on_leave', (args) => {
    const id = args?.[0];
    if (typeof id === 'number') meta(() => coordinator.sessionLeft(id));
  });
  await session.subscribe('wamp.registration.on_create', (args) => {
    const r = args?.[1] as { id?: number; uri?: string } | undefined;
    if (typeof r?.id === 'number' && typeof r.uri === 'string') meta(() => coordinator.registrationCreated(r.uri!, r.id!));
  });
  for (const topic of ['wamp.registration.on_unregister', 'wamp.registration.on_delete']) {
    await session.subscribe(topic, (args) => {
      const id = args?.[1];
      if (typeof id === 'number') meta(() => coordinator.registrationGone(id));
    });
  }

  // An exclusive store (SQLite): another backend serving this router means this one stays out before it adopts anything.
  if (invoke === 'single') await refuseIfServedElsewhere(session, Procedures.requestSlot, ours);
  const snapshot = await readSnapshot(session);
  await coordinator.attach(wireFor(session, config.router.callTimeoutMs), snapshot);
  attached = true;
  for (const fn of held.splice(0)) run(fn);

  const procedure = (name: string, fn: (args: unknown[], kwargs: Record<string, unknown>, details: InvocationDetails) => unknown) =>
    registerOrTakeOver(session, name, async (args, kwargs, details) => {
      try {
        return await fn(args ?? [], kwargs ?? {}, details ?? {});
      } catch (e) {
        if (e instanceof ClawFault) throw new autobahn.Error(e.uri, [e.message], e.kwargs);
        log.error({ procedure: name, err: (e as Error).message, stack: (e as Error).stack }, 'procedure failed');
        throw new autobahn.Error('wamp.error.runtime_error', ['internal error in the queue service']);
      }
    }, invoke, ours, log);
  /** A call from a player proves that session is there (its on_join may still be on the way). */
  const player = (d: InvocationDetails) => {
    if (typeof d.caller === 'number' && typeof d.caller_authid === 'string') coordinator.sessionJoined(d.caller, d.caller_authid, d.caller_authrole);
    return d.caller_authid;
  };
  const actor = (d: InvocationDetails) => d.caller_authid ?? null;

  await procedure(Procedures.machinesList, async () => {
    const list = await coordinator.machines();
    return Promise.all(list.map(async (m) => ({ ...m, spectators: await spectators(session, m.machine) })));
  });
  // kwargs `resume: true`: only reclaim the caller's place, never join (not_in_queue when there is none).
  await procedure(Procedures.requestSlot, (a, k, d) => coordinator.requestSlot(player(d), a[0], { resume: k.resume === true }));
  await procedure(Procedures.leave, (a, _k, d) => coordinator.leave(player(d), a[0]));
  await procedure(Procedures.turnReady, (a, _k, d) => coordinator.ready(player(d), a[0]));
  await procedure(Procedures.queueGet, (a, _k, d) => coordinator.queueGet(a[0], PRIVILEGED.has(d.caller_authrole ?? '')));
  await procedure(Procedures.adminPause, (a, _k, d) => coordinator.pause(a[0], actor(d)));
  await procedure(Procedures.adminResume, (a, _k, d) => coordinator.resume(a[0], actor(d)));
  await procedure(Procedures.adminSkip, (a, _k, d) => coordinator.skip(a[0], actor(d)));
  // kwargs `blockMinutes`: no new join of this machine's queue for that long.
  await procedure(Procedures.adminKick, (a, k, d) => coordinator.kick(a[0], a[1] ?? k.authid, actor(d), { blockMinutes: k.blockMinutes }));
  await procedure(Procedures.adminSettings, (a, k, d) => {
    const raw = a[1] ?? (a[0] !== null && typeof a[0] === 'object' ? omitMachine(a[0]) : omitMachine(k));
    const parsed = parseSettingsPatch(raw ?? {});
    if (!parsed.ok) throw new ClawFault(ClawErrors.invalidArgument, parsed.message);
    return coordinator.settingsOf(a[0], parsed.patch, actor(d));
  });
  await procedure(Procedures.adminTurns, (a, k) => {
    const limit = typeof k.limit === 'number' ? k.limit : typeof a[1] === 'number' ? a[1] : 50;
    return coordinator.turns(a[0] ?? k.machine, limit);
  });
  log.info({ session: session.id, invoke }, 'procedures registered');
}

function omitMachine(o: unknown): Record<string, unknown> {
  const { machine: _m, ...rest } = (o ?? {}) as Record<string, unknown>;
  return rest;
}

/** Subscribers of the machine's status topic (players and spectators alike), from the subscription meta API. */
async function spectators(session: AutobahnSession, machine: string): Promise<number> {
  try {
    const sub = await session.call('wamp.subscription.lookup', [machineUris(machine).status]);
    if (typeof sub !== 'number') return 0;
    return (await session.call('wamp.subscription.count_subscribers', [sub])) as number;
  } catch { return 0; }
}
