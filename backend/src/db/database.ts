// Opens the SQLite file in WAL mode and brings its schema up to date.
// synchronous=FULL: a committed state change survives kill -9 and power loss
// (WAL with NORMAL may lose the last commits on power loss; the queue is
// what players trust, and commits are few).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export function openDatabase(path: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

/** Applies the migrations not yet recorded; returns the versions applied. */
export function migrate(db: Db, migrations: readonly Migration[]): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const done = new Set((db.prepare('SELECT version FROM migrations').all() as { version: number }[]).map((r) => r.version));
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
    applied.push(m.version);
  }
  return applied;
}

export class DatabaseInUseError extends Error {
  override readonly name = 'DatabaseInUseError';
}

/**
 * One backend per SQLite file: a second one would run the same machines'
 * timers and turns beside the first. The lock is an exclusive SQLite lock on
 * `<path>-lock`, held by an open connection: the kernel drops it when the
 * process dies (kill -9, power loss), so a restart never finds a stale lock,
 * and a second backend (another process, or another one in this process)
 * is refused at once. Several backends need PostgreSQL.
 */
export function lockSqliteFile(path: string): { release(): void } {
  if (path === ':memory:') return { release() {} };
  mkdirSync(dirname(path), { recursive: true });
  const file = `${path}-lock`;
  const lock = new Database(file);
  try {
    lock.pragma('busy_timeout = 0');
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT;');
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw new DatabaseInUseError(`${path} is in use by another clawgate-backend (one backend per SQLite file; several backends share a PostgreSQL database)`);
    }
    throw e;
  }
  let held = true;
  return { release() { if (held) { held = false; lock.close(); } } };
}
