// Registering a `single` procedure again after a reconnect. The router may
// still hold this process's previous session (a half-dead connection, or, on
// a cluster, its router node just died and is not yet seen gone): then the
// procedure is ours, and waiting for the router to drop that session (its
// liveness timeout, or up to 3 s on a cluster) would leave players without
// the queue service meanwhile.
import { autobahn, type AutobahnSession } from '@clawgate/runtime';
import type { InvokePolicy } from './bindings.js';
import type { Logger } from './logger.js';

/**
 * Before an exclusive store's backend attaches (adopts machines, publishes their queues, may call
 * their nodes): is `name` registered by a session that is not one of ours? Then another backend
 * serves this router, and this one must not act at all: it throws procedure_already_exists, as
 * its REGISTER would a moment later. (Two starting at once can both pass; the REGISTER still
 * refuses one of them.)
 */
export async function refuseIfServedElsewhere(session: AutobahnSession, name: string, ours: ReadonlySet<number>): Promise<void> {
  const id = (await session.call('wamp.registration.lookup', [name])) as number | null;
  if (id === null) return;
  let holders: number[];
  try { holders = (await session.call('wamp.registration.list_callees', [id])) as number[]; } catch { return; }
  const others = holders.filter((h) => !ours.has(h));
  if (others.length > 0) throw new autobahn.Error('wamp.error.procedure_already_exists', [`procedure "${name}" is served by another backend (session ${others.join(', ')}); this one stays out`]);
}

/**
 * A `single` procedure found still registered by one of this process's own earlier sessions (a
 * half-dead connection, or its router node just died: the router has not dropped that session
 * yet) is taken over with force_reregister rather than waited for. One held by anyone else (a
 * second SQLite backend) stays refused: that refusal is what keeps two exclusive stores apart.
 */
export async function registerOrTakeOver(session: AutobahnSession, name: string, endpoint: Parameters<AutobahnSession['register']>[1], invoke: InvokePolicy, ours: ReadonlySet<number>, log: Logger): Promise<unknown> {
  try {
    return await session.register(name, endpoint, { invoke });
  } catch (e) {
    if ((e as { error?: string }).error !== 'wamp.error.procedure_already_exists' || invoke !== 'single' || ours.size === 0) throw e;
    let holders: number[] | undefined;
    try {
      const id = (await session.call('wamp.registration.lookup', [name])) as number | null;
      holders = id === null ? [] : (await session.call('wamp.registration.list_callees', [id])) as number[];
    } catch { holders = []; } // the registration went meanwhile
    // Dropped between the refusal and the lookup: free now, registered plainly.
    if (holders.length === 0) return session.register(name, endpoint, { invoke });
    if (!holders.every((h) => ours.has(h))) throw e;
    log.warn({ procedure: name, holder: holders }, 'procedure still held by this backend\'s previous session: taken over');
    return session.register(name, endpoint, { invoke, force_reregister: true });
  }
}
