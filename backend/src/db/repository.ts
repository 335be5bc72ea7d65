// Every SQL statement the backend runs, as typed async methods over Kysely,
// the same for SQLite and PostgreSQL. A state change is one transaction
// (`tx`) that first locks its machine's row (`lockMachine`: SELECT … FOR
// UPDATE on PostgreSQL; SQLite runs one transaction at a time anyway), so
// the changes of one machine are serialized whichever instance makes them,
// and every read after the lock sees what was committed before it.
// An owner's change is also fenced: the machine's lease row (machine_leases,
// read FOR SHARE, so no claim can change it before the commit) must still
// name it with its epoch, or the transaction fails with LeaseLost.
import { sql, type Kysely, type Selectable } from 'kysely';
import type { TurnResult } from '@clawgate/protocol';
import type { Dialect } from './store.js';
import type { DB, EntryState, MachinesTable, NodeEnd, RemovalReason, RemovalsTable, TurnsTable } from './schema.js';

export type { EntryState, RemovalReason, NodeEnd };

export interface Entry {
  id: number;
  machine: string;
  authid: string;
  seq: number;
  state: EntryState;
  joinedAt: number;
  readyDeadline: number | null;
  turnId: number | null;
  disconnectedAt: number | null;
  /** When the entry was last asked to get ready. */
  askedAt: number | null;
  /** The ready deadline was pushed once already for a player coming back after a restart (0/1). */
  readyExtended: number;
  /** The player's display name (the authid when none is stored). */
  name: string;
}

export interface MachineRow {
  id: string;
  firstSeen: number;
  paused: boolean;
  moveSeconds: number | null;
  readyWindowSeconds: number | null;
  graceSeconds: number | null;
  maxQueue: number | null;
  avgTurnMs: number | null;
  turnsCount: number;
  /** Running average of asked → confirmed (ms). */
  avgReadyMs: number | null;
  /** Running average of a turn's endsAt → its result, for turns that ran to the end (ms). */
  avgDropMs: number | null;
}

/** A turn as stored (schema.ts's TurnsTable, read back). */
export type TurnRow = Selectable<TurnsTable>;

/** A removal from a queue as stored (schema.ts's RemovalsTable, read back). */
export type RemovalRow = Selectable<RemovalsTable>;

/** An owner's claim on a machine: its instance id and the lease epoch it took the machine with. */
export interface Fence { instance: string; epoch: number }

/** A fenced transaction found the machine owned by someone else (or taken over again): it changed nothing. */
export class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
  constructor(readonly machine: string) { super(`the lease on ${machine} was lost`); }
}

function machineRow(r: Selectable<MachinesTable>): MachineRow {
  return { ...r, paused: r.paused === 1 };
}

/** PostgreSQL: serialization failure, deadlock (none expected: one row lock per transaction) — safe to run again. */
function retryable(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

export class Repository {
  constructor(readonly db: Kysely<DB>, readonly dialect: Dialect) {}

  /**
   * Runs `fn` in one transaction: all of it commits, or none. `fn` must only
   * touch the database (it may run again after a serialization failure).
   */
  async tx<T>(fn: (r: Repository) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction().execute((trx) => fn(new Repository(trx, this.dialect)));
      } catch (e) {
        if (attempt >= 4 || !retryable(e)) throw e;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
      }
    }
  }

  /** The store's clock (ms since the epoch): leases are judged by one clock, whatever the instances' clocks say. */
  private clock() {
    return this.dialect === 'postgres'
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql<number>`CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`;
  }

  // ---------------------------------------------------------------- players

  /** Stores the display name and marks the row used now; the minting address is set once (a renewal keeps the first). */
  async upsertPlayer(authid: string, name: string, now: number, address: string | null = null): Promise<void> {
    await this.db.insertInto('players').values({ authid, name, createdAt: now, updatedAt: now, address })
      .onConflict((oc) => oc.column('authid').doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        updatedAt: eb.ref('excluded.updatedAt'),
        address: eb.fn.coalesce('players.address', 'excluded.address'),
      }))).execute();
  }
  async playerName(authid: string): Promise<string | undefined> {
    return (await this.db.selectFrom('players').select('name').where('authid', '=', authid).executeTakeFirst())?.name;
  }
  /** The client address a guest was minted from (null: none recorded, or no row). */
  async playerAddress(authid: string): Promise<string | null> {
    return (await this.db.selectFrom('players').select('address').where('authid', '=', authid).executeTakeFirst())?.address ?? null;
  }
  /** Entries in `machine`'s queue held by players minted from `address`. */
  async placesOfAddress(machine: string, address: string): Promise<number> {
    const r = await this.db.selectFrom('queueEntries as e').innerJoin('players as p', 'p.authid', 'e.authid')
      .select((eb) => eb.fn.countAll<number>().as('n')).where('e.machine', '=', machine).where('p.address', '=', address).executeTakeFirstOrThrow();
    return Number(r.n);
  }
  /** Up to `limit` rows unused since before `cutoff` and not queued, after the (updatedAt, authid) cursor, oldest first. */
  async staleGuests(cutoff: number, after: { updatedAt: number; authid: string }, limit: number): Promise<{ authid: string; updatedAt: number }[]> {
    return this.db.selectFrom('players as p').select(['p.authid', 'p.updatedAt'])
      .where('p.updatedAt', '<', cutoff)
      .where((eb) => eb.or([eb('p.updatedAt', '>', after.updatedAt), eb.and([eb('p.updatedAt', '=', after.updatedAt), eb('p.authid', '>', after.authid)])]))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('queueEntries as e').select('e.id').whereRef('e.authid', '=', 'p.authid'))))
      .orderBy('p.updatedAt').orderBy('p.authid').limit(limit).execute();
  }
  /** Deletes a guest row if it is still unused since before `cutoff` and not queued; true when deleted. */
  async deleteGuest(authid: string, cutoff: number): Promise<boolean> {
    const r = await this.db.deleteFrom('players').where('authid', '=', authid).where('updatedAt', '<', cutoff)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('queueEntries as e').select('e.id').whereRef('e.authid', '=', 'players.authid'))))
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
  async playerCount(): Promise<number> {
    return Number((await this.db.selectFrom('players').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  }

  // ---------------------------------------------------------------- machines

  async ensureMachine(id: string, now: number): Promise<void> {
    await this.db.insertInto('machines').values({ id, firstSeen: now }).onConflict((oc) => oc.column('id').doNothing()).execute();
  }
  async machine(id: string): Promise<MachineRow | undefined> {
    const r = await this.db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirst();
    return r && machineRow(r);
  }
  async machines(): Promise<MachineRow[]> {
    return (await this.db.selectFrom('machines').selectAll().orderBy('id').execute()).map(machineRow);
  }
  /** Every machine with its queue length, in one query. */
  async machinesWithQueues(): Promise<(MachineRow & { queueLength: number })[]> {
    const rows = await this.db.selectFrom('machines as m').selectAll('m')
      .select((eb) => eb.selectFrom('queueEntries as e').select((e) => e.fn.countAll<number>().as('n')).whereRef('e.machine', '=', 'm.id').as('queueLength'))
      .orderBy('m.id').execute();
    return rows.map((r) => ({ ...machineRow(r), queueLength: Number(r.queueLength ?? 0) }));
  }
  /**
   * Locks the machine's row for the rest of the transaction and reads it.
   * With `fence`, its lease must still name that owner and epoch (else
   * LeaseLost); the lease row stays share-locked until the commit.
   */
  async lockMachine(id: string, fence?: Fence): Promise<MachineRow | undefined> {
    let q = this.db.selectFrom('machines').selectAll().where('id', '=', id);
    if (this.dialect === 'postgres') q = q.forUpdate();
    const r = await q.executeTakeFirst();
    if (fence) {
      let l = this.db.selectFrom('machineLeases').select(['owner', 'leaseEpoch']).where('machine', '=', id);
      if (this.dialect === 'postgres') l = l.forShare();
      const lease = await l.executeTakeFirst();
      if (!r || lease?.owner !== fence.instance || lease.leaseEpoch !== fence.epoch) throw new LeaseLost(id);
    }
    return r && machineRow(r);
  }
  async setPaused(id: string, paused: boolean): Promise<void> {
    await this.db.updateTable('machines').set({ paused: paused ? 1 : 0 }).where('id', '=', id).execute();
  }
  async setSettings(id: string, patch: { moveSeconds?: number; readyWindowSeconds?: number; graceSeconds?: number; maxQueue?: number }): Promise<void> {
    const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    if (Object.keys(set).length > 0) await this.db.updateTable('machines').set(set).where('id', '=', id).execute();
  }
  async recordTurnLength(id: string, avgMs: number): Promise<void> {
    await this.db.updateTable('machines').set((eb) => ({ avgTurnMs: avgMs, turnsCount: eb('turnsCount', '+', 1) })).where('id', '=', id).execute();
  }
  async recordReadyDelay(id: string, avgMs: number): Promise<void> {
    await this.db.updateTable('machines').set({ avgReadyMs: avgMs }).where('id', '=', id).execute();
  }
  async recordDropCycle(id: string, avgMs: number): Promise<void> {
    await this.db.updateTable('machines').set({ avgDropMs: avgMs }).where('id', '=', id).execute();
  }

  // ---------------------------------------------------------------- queue entries

  private entrySelect() {
    return this.db.selectFrom('queueEntries as e').leftJoin('players as p', 'p.authid', 'e.authid')
      .select(['e.id', 'e.machine', 'e.authid', 'e.seq', 'e.state', 'e.joinedAt', 'e.readyDeadline', 'e.turnId', 'e.disconnectedAt', 'e.askedAt', 'e.readyExtended'])
      .select((eb) => eb.fn.coalesce('p.name', 'e.authid').as('name'));
  }
  async entries(machine: string): Promise<Entry[]> {
    return await this.entrySelect().where('e.machine', '=', machine).orderBy('e.seq').execute() as Entry[];
  }
  async allEntries(): Promise<Entry[]> {
    return await this.entrySelect().orderBy('e.machine').orderBy('e.seq').execute() as Entry[];
  }
  async entry(machine: string, authid: string): Promise<Entry | undefined> {
    return await this.entrySelect().where('e.machine', '=', machine).where('e.authid', '=', authid).executeTakeFirst() as Entry | undefined;
  }
  async entriesOf(authid: string): Promise<Entry[]> {
    return await this.entrySelect().where('e.authid', '=', authid).orderBy('e.machine').execute() as Entry[];
  }
  /** What a join decision needs, in one round trip: the queue's length, whether the player is in it, a block, the player's minting address and the places held from it. */
  async joinView(machine: string, authid: string, now: number): Promise<{ queueLength: number; queued: boolean; blockedUntil: number | undefined; address: string | null; addressPlaces: number }> {
    const r = await sql<{ queueLength: number; queued: number | boolean; blockedUntil: number | null; address: string | null; addressPlaces: number }>`SELECT
      (SELECT COUNT(*) FROM queue_entries WHERE machine = ${machine}) AS queue_length,
      EXISTS (SELECT 1 FROM queue_entries WHERE machine = ${machine} AND authid = ${authid}) AS queued,
      (SELECT until FROM blocks WHERE machine = ${machine} AND authid = ${authid} AND until > ${now}) AS blocked_until,
      (SELECT address FROM players WHERE authid = ${authid}) AS address,
      (SELECT COUNT(*) FROM queue_entries e JOIN players p ON p.authid = e.authid
        WHERE e.machine = ${machine} AND p.address = (SELECT address FROM players WHERE authid = ${authid})) AS address_places`.execute(this.db);
    const v = r.rows[0]!;
    return { queueLength: Number(v.queueLength), queued: Boolean(v.queued), blockedUntil: v.blockedUntil === null ? undefined : Number(v.blockedUntil), address: v.address, addressPlaces: Number(v.addressPlaces) };
  }
  async queueLength(machine: string): Promise<number> {
    return Number((await this.db.selectFrom('queueEntries').select((eb) => eb.fn.countAll<number>().as('n')).where('machine', '=', machine).executeTakeFirstOrThrow()).n);
  }
  async insertEntry(machine: string, authid: string, now: number): Promise<void> {
    await this.db.insertInto('queueEntries').values({
      machine, authid, state: 'waiting', joinedAt: now,
      seq: sql<number>`(SELECT COALESCE(MAX(seq), 0) + 1 FROM queue_entries WHERE machine = ${machine})`,
    }).execute();
  }
  async deleteEntry(id: number): Promise<void> {
    await this.db.deleteFrom('queueEntries').where('id', '=', id).execute();
  }
  async setEntryState(id: number, state: EntryState, readyDeadline: number | null = null, turnId: number | null = null): Promise<void> {
    await this.db.updateTable('queueEntries').set({ state, readyDeadline, turnId }).where('id', '=', id).execute();
  }
  /** The entry is asked to get ready now, until `deadline` (a new ready check: not extended yet). */
  async askReady(id: number, deadline: number, now: number): Promise<void> {
    await this.db.updateTable('queueEntries').set({ state: 'ready_check', readyDeadline: deadline, askedAt: now, readyExtended: 0, turnId: null }).where('id', '=', id).execute();
  }
  /** Pushes a ready deadline once (a player back after a restart); false when the entry is not in its ready check. */
  async extendReady(id: number, deadline: number): Promise<boolean> {
    const r = await this.db.updateTable('queueEntries').set({ readyDeadline: deadline, readyExtended: 1 }).where('id', '=', id).where('state', '=', 'ready_check').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  async moveToFront(machine: string, id: number): Promise<void> {
    await this.db.updateTable('queueEntries').set({ seq: sql<number>`(SELECT MIN(seq) - 1 FROM queue_entries WHERE machine = ${machine})` }).where('id', '=', id).execute();
  }
  /** The player's entry on `machine` is disconnected since `at` (an earlier time is kept). */
  async markDisconnected(machine: string, authid: string, at: number): Promise<void> {
    await this.db.updateTable('queueEntries').set({ disconnectedAt: at }).where('machine', '=', machine).where('authid', '=', authid).where('disconnectedAt', 'is', null).execute();
  }
  async markConnected(machine: string, authid: string): Promise<void> {
    await this.db.updateTable('queueEntries').set({ disconnectedAt: null }).where('machine', '=', machine).where('authid', '=', authid).where('disconnectedAt', 'is not', null).execute();
  }

  /** Every entry of `machine` is connected or not as `present` says (an earlier disconnect time is kept). */
  async syncPresence(machine: string, present: (authid: string) => boolean, now: number): Promise<void> {
    const authids = (await this.db.selectFrom('queueEntries').select('authid').where('machine', '=', machine).execute()).map((r) => r.authid);
    const here = authids.filter(present);
    const away = authids.filter((a) => !present(a));
    if (here.length > 0) await this.db.updateTable('queueEntries').set({ disconnectedAt: null }).where('machine', '=', machine).where('authid', 'in', here).where('disconnectedAt', 'is not', null).execute();
    if (away.length > 0) await this.db.updateTable('queueEntries').set({ disconnectedAt: now }).where('machine', '=', machine).where('authid', 'in', away).where('disconnectedAt', 'is', null).execute();
  }

  // ---------------------------------------------------------------- turns

  async insertTurn(machine: string, authid: string, name: string, startedAt: number): Promise<number> {
    const r = await this.db.insertInto('turns').values({ machine, authid, name, startedAt }).returning('id').executeTakeFirstOrThrow();
    return Number(r.id);
  }
  /** The owner is calling start_turn now, for a node with this start_turn registration. */
  async markStartSent(id: number, at: number, registration: number | null): Promise<void> {
    await this.db.updateTable('turns').set({ startSentAt: at, startRegistration: registration }).where('id', '=', id).execute();
  }
  async turnStarted(id: number, endsAt: number): Promise<void> {
    await this.db.updateTable('turns').set({ endsAt }).where('id', '=', id).execute();
  }
  /** Sets the result once; false when the turn had one already. `nodeEnd` 'pending': the owner must still call end_turn. */
  async finishTurn(id: number, endedAt: number, result: TurnResult, endedBy: string | null, endReason: string | null = null, nodeEnd: NodeEnd | null = null): Promise<boolean> {
    const r = await this.db.updateTable('turns').set({ endedAt, result, endedBy, endReason, nodeEnd }).where('id', '=', id).where('result', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  async turn(id: number): Promise<TurnRow | undefined> {
    return await this.db.selectFrom('turns').selectAll().where('id', '=', id).executeTakeFirst() as TurnRow | undefined;
  }
  /** Turns of `machine` whose end the node has not been told yet (end_turn). */
  async pendingNodeEnds(machine: string): Promise<TurnRow[]> {
    return await this.db.selectFrom('turns').selectAll().where('machine', '=', machine).where('nodeEnd', '=', 'pending').orderBy('id').execute() as TurnRow[];
  }
  /** Keeps the node's word on a running turn of `authid` (idempotent; not a decision, so no machine lock or fence). */
  async recordNodeResult(id: number, authid: string, result: TurnResult): Promise<void> {
    await this.db.updateTable('turns').set({ nodeResult: result }).where('id', '=', id).where('authid', '=', authid)
      .where('result', 'is', null).where('nodeResult', 'is', null).execute();
  }
  async nodeEndDone(id: number): Promise<void> {
    await this.db.updateTable('turns').set({ nodeEnd: 'done' }).where('id', '=', id).where('nodeEnd', '=', 'pending').execute();
  }
  async recentTurns(machine: string | null, limit: number): Promise<TurnRow[]> {
    return await this.db.selectFrom('turns').selectAll().$if(machine !== null, (q) => q.where('machine', '=', machine!))
      .orderBy('id', 'desc').limit(limit).execute() as TurnRow[];
  }
  async audit(at: number, machine: string, action: string, actor: string | null, target: string | null, turnId: number | null, detail: unknown): Promise<void> {
    await this.db.insertInto('adminActions').values({ at, machine, action, actor, target, turnId, detail: detail === undefined ? null : JSON.stringify(detail) }).execute();
  }

  /** Records a removal without a turn; keeps at most `keep` rows (the oldest go). */
  async recordRemoval(r: Omit<RemovalRow, 'id'>, keep: number): Promise<void> {
    const { id } = await this.db.insertInto('removals').values(r).returning('id').executeTakeFirstOrThrow();
    if (Number(id) > keep) await this.db.deleteFrom('removals').where('id', '<=', Number(id) - keep).execute();
  }
  async recentRemovals(machine: string | null, limit: number): Promise<RemovalRow[]> {
    return await this.db.selectFrom('removals').selectAll().$if(machine !== null, (q) => q.where('machine', '=', machine!))
      .orderBy('id', 'desc').limit(limit).execute() as RemovalRow[];
  }

  /** Blocks `authid` from joining `machine` until `until`; keeps at most `keep` blocks (expired ones first, then those ending soonest). */
  async block(machine: string, authid: string, until: number, actor: string | null, now: number, keep: number): Promise<void> {
    await this.db.insertInto('blocks').values({ machine, authid, until, actor })
      .onConflict((oc) => oc.columns(['machine', 'authid']).doUpdateSet((eb) => ({ until: eb.ref('excluded.until'), actor: eb.ref('excluded.actor') }))).execute();
    await this.db.deleteFrom('blocks').where('until', '<=', now).execute();
    const count = Number((await this.db.selectFrom('blocks').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const over = count - keep;
    if (over > 0) {
      await sql`DELETE FROM blocks WHERE (machine, authid) IN (SELECT machine, authid FROM blocks ORDER BY until LIMIT ${over})`.execute(this.db);
    }
  }
  /** Until when `authid` may not join `machine` (undefined: not blocked now). */
  async blockedUntil(machine: string, authid: string, now: number): Promise<number | undefined> {
    return (await this.db.selectFrom('blocks').select('until').where('machine', '=', machine).where('authid', '=', authid).where('until', '>', now).executeTakeFirst())?.until;
  }

  // ---------------------------------------------------------------- instances and leases

  /** This instance is attached with router session `session` (its heartbeat starts now). */
  async registerInstance(id: string, session: number, host: string, pid: number, now: number): Promise<void> {
    await this.db.insertInto('backendInstances').values({ id, wampSession: session, host, pid, startedAt: now, heartbeatAt: this.clock() })
      .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ wampSession: eb.ref('excluded.wampSession'), heartbeatAt: eb.ref('excluded.heartbeatAt') }))).execute();
  }
  /** The instance is detached (or gone): its leases may be taken at once. */
  async detachInstance(id: string): Promise<void> {
    await this.db.updateTable('backendInstances').set({ wampSession: null }).where('id', '=', id).execute();
  }
  /** The instance that was attached with router session `session` left the router (it died, or lost its link): true if there was one. */
  async instanceSessionGone(session: number): Promise<boolean> {
    const r = await this.db.updateTable('backendInstances').set({ wampSession: null }).where('wampSession', '=', session).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
  /**
   * Renews every lease `instance` holds, if it is still attached with
   * `session` (an instance another one saw leave renews nothing); returns the
   * machines renewed with their epochs. Also its heartbeat.
   */
  async renewLeases(instance: string, session: number, leaseMs: number): Promise<{ id: string; leaseEpoch: number }[]> {
    const attached = await this.db.updateTable('backendInstances').set({ heartbeatAt: this.clock() })
      .where('id', '=', instance).where('wampSession', '=', session).executeTakeFirst();
    if (Number(attached.numUpdatedRows) !== 1) return [];
    const rows = await this.db.updateTable('machineLeases').set({ leaseUntil: sql<number>`${this.clock()} + ${leaseMs}` })
      .where('owner', '=', instance).returning(['machine', 'leaseEpoch']).execute();
    return rows.map((x) => ({ id: x.machine, leaseEpoch: x.leaseEpoch }));
  }
  /** Machines nobody holds: no owner, an expired lease, or an owner that is not attached. */
  async claimableMachines(): Promise<{ id: string; owner: string | null }[]> {
    return this.db.selectFrom('machines as m').leftJoin('machineLeases as l', 'l.machine', 'm.id').select(['m.id', 'l.owner'])
      .where((eb) => eb.or([
        eb('l.owner', 'is', null),
        eb('l.leaseUntil', '<', this.clock()),
        eb.not(eb.exists(eb.selectFrom('backendInstances as i').select('i.id').whereRef('i.id', '=', 'l.owner').where('i.wampSession', 'is not', null))),
      ])).orderBy('m.id').execute();
  }
  /**
   * Takes the machine's lease for `instance` if nobody holds it (or always,
   * with `force`: an exclusive store); returns the new epoch, or undefined.
   */
  async claimMachine(machine: string, instance: string, leaseMs: number, force: boolean): Promise<number | undefined> {
    return this.tx(async (r) => {
      await r.db.insertInto('machineLeases').values({ machine }).onConflict((oc) => oc.column('machine').doNothing()).execute();
      let q = r.db.selectFrom('machineLeases as l').select(['l.machine', 'l.owner', 'l.leaseEpoch'])
        .select((eb) => eb.or([
          eb('l.owner', 'is', null),
          eb('l.leaseUntil', '<', r.clock()),
          eb.not(eb.exists(eb.selectFrom('backendInstances as i').select('i.id').whereRef('i.id', '=', 'l.owner').where('i.wampSession', 'is not', null))),
        ]).as('free'))
        .where('l.machine', '=', machine);
      if (r.dialect === 'postgres') q = q.forUpdate('l');
      const row = await q.executeTakeFirst();
      if (!row || (!force && !row.free)) return undefined;
      const epoch = row.leaseEpoch + 1;
      await r.db.updateTable('machineLeases').set({ owner: instance, leaseEpoch: epoch, leaseUntil: sql<number>`${r.clock()} + ${leaseMs}` }).where('machine', '=', machine).execute();
      return epoch;
    });
  }
  /** Gives up the instance's leases (all, or one machine's at this epoch) so another instance can take them at once. */
  async releaseLeases(instance: string, machine?: string, epoch?: number): Promise<void> {
    await this.db.updateTable('machineLeases').set({ owner: null, leaseUntil: 0 }).where('owner', '=', instance)
      .$if(machine !== undefined, (q) => q.where('machine', '=', machine!).where('leaseEpoch', '=', epoch!)).execute();
  }
  /** Instances attached now whose heartbeat is at most `withinMs` old. */
  async liveInstances(withinMs: number): Promise<number> {
    const r = await this.db.selectFrom('backendInstances').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('wampSession', 'is not', null).where('heartbeatAt', '>', sql<number>`${this.clock()} - ${withinMs}`).executeTakeFirstOrThrow();
    return Number(r.n);
  }
  /** Forgets instances detached or silent for `olderThanMs` (each start of a backend adds one). */
  async pruneInstances(olderThanMs: number): Promise<void> {
    await this.db.deleteFrom('backendInstances').where('heartbeatAt', '<', sql<number>`${this.clock()} - ${olderThanMs}`).execute();
  }
  /** Who owns what (for /health and the tests). */
  async owners(): Promise<{ machine: string; owner: string | null; leaseUntil: number; leaseEpoch: number }[]> {
    return this.db.selectFrom('machineLeases').select(['machine', 'owner', 'leaseUntil', 'leaseEpoch']).orderBy('machine').execute();
  }

  /** PostgreSQL: tells every instance's LISTEN connection about a change, when (and only if) this transaction commits. */
  async notify(channel: string, payload: string): Promise<void> {
    if (this.dialect !== 'postgres') return;
    await sql`SELECT pg_notify(${channel}, ${payload})`.execute(this.db);
  }
}
