// SQLite: WAL, migrations applied once, one transaction per state change.
import { join } from 'node:path';
import t from 'tap';
import { migrate, openDatabase } from '../src/db/database.js';
import { MIGRATIONS } from '../src/db/migrations.js';
import { Repository } from '../src/db/repository.js';
import { tempDir } from './helpers.js';

t.test('WAL, migrations recorded and applied once', async (t) => {
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

t.test('repository: FIFO order, one slot per player, back to the front, atomic transactions', async (t) => {
  const db = openDatabase(join(tempDir(t), 'q.sqlite'));
  t.teardown(() => db.close());
  const repo = new Repository(db);
  repo.ensureMachine('m', 1);
  repo.upsertPlayer('a', 'Alice', 1);
  for (const p of ['a', 'b', 'c']) repo.insertEntry('m', p, 2);
  t.same(repo.entries('m').map((e) => [e.authid, e.name]), [['a', 'Alice'], ['b', 'b'], ['c', 'c']], 'names, or the authid');
  t.throws(() => repo.insertEntry('m', 'b', 3), /UNIQUE/, 'one slot per player per machine');
  repo.moveToFront('m', repo.entry('m', 'c')!.id);
  t.same(repo.entries('m').map((e) => e.authid), ['c', 'a', 'b']);
  t.throws(() => repo.tx(() => { repo.deleteEntry(repo.entry('m', 'a')!.id); throw new Error('crash in the middle'); }));
  t.equal(repo.queueLength('m'), 3, 'a failed transaction changes nothing');
  const turn = repo.insertTurn('m', 'c', 'c', 10);
  t.ok(repo.finishTurn(turn, 20, 'win', null));
  t.notOk(repo.finishTurn(turn, 30, 'lose', null), 'a result is set once');
  t.equal(repo.turn(turn)?.result, 'win');
});
