// The store: SQLite (WAL, migrations applied once, one backend per file) and
// PostgreSQL (migrations once however many instances start together); the
// repository's statements and transactions on both; what the unique indexes
// forbid; the machine row lock; leases, hand-overs and fencing.
import { join } from 'node:path';
import t from 'tap';
import { sql } from 'kysely';
import Database from 'better-sqlite3';
import { migrate, openDatabase } from '../src/db/database.js';
import { MIGRATIONS } from '../src/db/migrations.js';
import { LeaseLost, Repository } from '../src/db/repository.js';
import { openStore, type Store } from '../src/db/store.js';
import type { DatabaseConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import { column, scalar, sleep, storeTest, tempDir, testDatabase, type StoreKind } from './helpers.js';

async function store(t: { teardown(fn: () => unknown): void }, kind: StoreKind): Promise<Store> {
  const db = await testDatabase(t, kind);
  const config: DatabaseConfig = typeof db === 'string'
    ? { kind: 'sqlite', path: db }
    : { kind: 'postgres', url: db.url, poolSize: 5, statementTimeoutMs: 5000, connectTimeoutMs: 5000 };
  const s = await openStore(config, silentLogger());
  t.teardown(() => s.close());
  return s;
}

t.test('SQLite: WAL, migrations recorded and applied once', async (t) => {
  const path = join(tempDir(t), 'q.sqlite');
  const db = openDatabase(path);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.same(db.prepare('SELECT version FROM migrations').pluck().all(), MIGRATIONS.map((m) => m.version));
  t.same(migrate(db, MIGRATIONS), [], 'nothing to apply the second time');
  db.close();
  const again = openDatabase(path);
  t.same(again.prepare('SELECT COUNT(*) FROM migrations').pluck().get(), MIGRATIONS.length, 'reopening applies nothing');
  const applied = migrate(again, [...MIGRATIONS, { version: 99, name: 'test', sql: 'CREATE TABLE extra (x INTEGER)' }]);
  t.same(applied, [99], 'only the new migration');
  again.close();
});

t.test('SQLite migration 4 on a database of version 3: open turns kept, orphans closed, starts marked as sent', async (t) => {
  const path = join(tempDir(t), 'old.sqlite');
  const old = new Database(path);
  migrate(old, MIGRATIONS.filter((m) => m.version <= 3));
  old.prepare('INSERT INTO machines (id, first_seen) VALUES (?, 1)').run('m');
  old.prepare("INSERT INTO turns (machine, authid, name, started_at) VALUES ('m', 'a', 'A', 10)").run();
  old.prepare("INSERT INTO turns (machine, authid, name, started_at) VALUES ('m', 'b', 'B', 20)").run();
  old.prepare("INSERT INTO queue_entries (machine, authid, seq, state, joined_at, turn_id) VALUES ('m', 'b', 1, 'playing', 5, 2)").run();
  old.close();
  const db = openDatabase(path);
  t.teardown(() => db.close());
  t.same(db.prepare('SELECT id, result, start_sent_at AS s FROM turns ORDER BY id').all(), [
    { id: 1, result: 'abandoned', s: null },
    { id: 2, result: null, s: 20 },
  ], 'the orphan is closed; the running turn had its start_turn sent');
});

t.test('SQLite: one backend per file (a second store on it is refused until the first closes)', async (t) => {
  const path = join(tempDir(t), 'q.sqlite');
  const first = await openStore({ kind: 'sqlite', path }, silentLogger());
  await t.rejects(openStore({ kind: 'sqlite', path }, silentLogger()), /in use by another clawgate-backend/);
  await first.close();
  const second = await openStore({ kind: 'sqlite', path }, silentLogger());
  await second.close();
});

storeTest('PostgreSQL: instances that start together migrate once', async (t) => {
  const db = await testDatabase(t, 'postgres') as { url: string };
  const config: DatabaseConfig = { kind: 'postgres', url: db.url, poolSize: 3, statementTimeoutMs: 5000, connectTimeoutMs: 5000 };
  const stores = await Promise.all([1, 2, 3].map(() => openStore(config, silentLogger())));
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  t.same(await column({ store: stores[0]! }, sql`SELECT version FROM migrations ORDER BY version`), [1]);
}, { stores: ['postgres'] });

storeTest('PostgreSQL\'s schema has the tables and columns of SQLite\'s migrations 1-4 (one repository reads both)', async (t) => {
  const lite = await store(t, 'sqlite');
  const pg = await store(t, 'postgres');
  const liteCols = (await column({ store: lite }, sql`SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1`)) as string[];
  const pgCols = (await column({ store: pg }, sql`SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1`)) as string[];
  t.ok(liteCols.length > 40, `SQLite has ${liteCols.length} columns`);
  t.same([...pgCols].sort(), [...liteCols].sort(), 'the same tables and columns');
}, { stores: ['postgres'] });

storeTest('repository: FIFO order, one slot per player, back to the front, atomic transactions, a result once', async (t, kind) => {
  const s = await store(t, kind);
  const repo = new Repository(s.db, s.dialect);
  await repo.ensureMachine('m', 1);
  await repo.upsertPlayer('a', 'Alice', 1);
  for (const p of ['a', 'b', 'c']) await repo.insertEntry('m', p, 2);
  t.same((await repo.entries('m')).map((e) => [e.authid, e.name]), [['a', 'Alice'], ['b', 'b'], ['c', 'c']], 'names, or the authid');
  await t.rejects(repo.insertEntry('m', 'b', 3), /UNIQUE|unique/, 'one slot per player per machine');
  await repo.moveToFront('m', (await repo.entry('m', 'c'))!.id);
  t.same((await repo.entries('m')).map((e) => e.authid), ['c', 'a', 'b']);
  await t.rejects(repo.tx(async (r) => { await r.deleteEntry((await r.entry('m', 'a'))!.id); throw new Error('crash in the middle'); }), /crash in the middle/);
  t.equal(await repo.queueLength('m'), 3, 'a failed transaction changes nothing');
  const turn = await repo.insertTurn('m', 'c', 'c', 10);
  t.ok(await repo.finishTurn(turn, 20, 'win', null));
  t.notOk(await repo.finishTurn(turn, 30, 'lose', null), 'a result is set once');
  t.equal((await repo.turn(turn))?.result, 'win');
  t.equal(typeof (await repo.turn(turn))?.startedAt, 'number', 'times are numbers on both stores');
});

storeTest('the schema forbids two turns at once on a machine and two entries asked or playing', async (t, kind) => {
  const s = await store(t, kind);
  const repo = new Repository(s.db, s.dialect);
  await repo.ensureMachine('m', 1);
  await repo.insertTurn('m', 'a', 'A', 10);
  await t.rejects(repo.insertTurn('m', 'b', 'B', 11), /UNIQUE|unique/, 'a second turn without a result');
  await repo.ensureMachine('n', 1);
  await repo.insertTurn('n', 'b', 'B', 11);
  t.pass('another machine may run its own turn');
  for (const p of ['a', 'b']) await repo.insertEntry('m', p, 2);
  const [a, b] = await repo.entries('m');
  await repo.setEntryState(a!.id, 'ready_check', 100);
  await t.rejects(repo.setEntryState(b!.id, 'playing'), /UNIQUE|unique/, 'a second entry not waiting');
});

storeTest('the machine row lock serializes transactions on one machine; other machines go on', async (t, kind) => {
  const s = await store(t, kind);
  const repo = new Repository(s.db, s.dialect);
  await repo.ensureMachine('m', 1);
  await repo.ensureMachine('n', 1);
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  const first = repo.tx(async (r) => { await r.lockMachine('m'); order.push('first locked'); await held; order.push('first done'); });
  await sleep(100);
  const second = repo.tx(async (r) => { await r.lockMachine('m'); order.push('second locked'); });
  if (kind === 'postgres') {
    await repo.tx(async (r) => { await r.lockMachine('n'); order.push('other machine'); });
  }
  await sleep(100);
  release();
  await Promise.all([first, second]);
  t.same(order.filter((x) => x !== 'other machine'), ['first locked', 'first done', 'second locked'], 'the second waited for the first');
  if (kind === 'postgres') t.equal(order.indexOf('other machine'), 1, 'a transaction on another machine did not wait');
});

storeTest('leases: a claim fences the old owner; a detached owner\'s machines are claimable at once; renewals only while attached', async (t, kind) => {
  const s = await store(t, kind);
  const repo = new Repository(s.db, s.dialect);
  await repo.ensureMachine('m', 1);
  await repo.registerInstance('A', 11, 'h', 1, 1);
  await repo.registerInstance('B', 22, 'h', 2, 1);
  const ea = await repo.claimMachine('m', 'A', 60_000, false);
  t.equal(ea, 1, 'A takes the free machine (epoch 1)');
  t.equal(await repo.claimMachine('m', 'B', 60_000, false), undefined, 'B cannot while A holds it');
  t.same(await repo.renewLeases('A', 11, 60_000), [{ id: 'm', leaseEpoch: 1 }], 'A renews');
  t.same(await repo.renewLeases('A', 99, 60_000), [], 'not with another router session');
  await repo.tx(async (r) => { await r.lockMachine('m', { instance: 'A', epoch: 1 }); });
  t.pass('A\'s fenced transaction passes');
  t.ok(await repo.instanceSessionGone(11), 'A\'s router session left');
  t.same(await repo.renewLeases('A', 11, 60_000), [], 'A renews nothing any more');
  t.same((await repo.claimableMachines()).map((m) => m.id), ['m'], 'its machine is claimable before its lease runs out');
  t.equal(await repo.claimMachine('m', 'B', 60_000, false), 2, 'B takes it over (epoch 2)');
  await t.rejects(repo.tx(async (r) => { await r.lockMachine('m', { instance: 'A', epoch: 1 }); }), LeaseLost, 'A\'s fenced transaction now fails');
  await repo.tx(async (r) => { await r.lockMachine('m', { instance: 'B', epoch: 2 }); });
  await repo.releaseLeases('B');
  t.same(await scalar({ store: s }, sql`SELECT owner FROM machine_leases WHERE machine = 'm'`), null, 'released: no owner');
  t.equal(await repo.claimMachine('m', 'A', 60_000, true), 3, 'a forced claim (an exclusive store) bumps the epoch too');
  await repo.registerInstance('C', 33, 'h', 3, 1);
  t.equal(await repo.claimMachine('m', 'C', 60_000, false), 4, 'A is not attached (no router session): C may take it');
  await repo.registerInstance('A', 44, 'h', 1, 1);
  t.equal(await repo.claimMachine('m', 'A', 60_000, false), undefined, 'C is attached and its lease runs');
  await repo.tx(async (r) => { await r.db.updateTable('machineLeases').set({ leaseUntil: 0 }).where('machine', '=', 'm').execute(); });
  t.equal(await repo.claimMachine('m', 'A', 60_000, false), 5, 'an expired lease is claimable');
  t.equal(await repo.liveInstances(60_000), 3, 'A, B and C are attached');
});
