// The store: one Kysely query layer over either SQLite (better-sqlite3, the
// embedded default: one backend per file) or PostgreSQL (`pg`: several
// backends at once). The repository's SQL is written once against Kysely;
// what differs per dialect (DDL, row locks, the clock, NOTIFY) is decided
// here and in repository.ts by `dialect`.
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type pg from 'pg';
import type { DatabaseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { lockSqliteFile, openDatabase, type Db } from './database.js';
import { POSTGRES_MIGRATIONS } from './migrations-postgres.js';
import { clientConfig, createPool, migratePostgres } from './postgres.js';
import type { DB } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  dialect: Dialect;
  db: Kysely<DB>;
  /**
   * Connections of their own for the machine leases (PostgreSQL: a pool of
   * two; SQLite: `db`): a renewal never waits for a connection behind a burst
   * of calls.
   */
  leases: Kysely<DB>;
  /** Only one backend may use this store (SQLite): it owns every machine. */
  exclusive: boolean;
  /** The SQLite handle (SQLite only). */
  sqlite?: Db;
  /** The connection settings, for the LISTEN connection (PostgreSQL only). */
  pg?: pg.ClientConfig;
  /** Where it is, for logs and /health (no password). */
  describe: string;
  close(): Promise<void>;
}

export async function openStore(config: DatabaseConfig, log: Logger): Promise<Store> {
  const plugins = [new CamelCasePlugin()];
  if (config.kind === 'sqlite') {
    const lock = lockSqliteFile(config.path);
    let sqlite: Db;
    try { sqlite = openDatabase(config.path); } catch (e) { lock.release(); throw e; }
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }), plugins });
    let closed: Promise<void> | undefined;
    return {
      dialect: 'sqlite', db, leases: db, exclusive: true, sqlite, describe: config.path,
      close: () => (closed ??= db.destroy().finally(() => lock.release())),
    };
  }
  const pool = createPool(config, log);
  try {
    const applied = await migratePostgres(pool, POSTGRES_MIGRATIONS);
    if (applied.length > 0) log.info({ migrations: applied }, 'PostgreSQL schema migrated');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins });
  const leases = new Kysely<DB>({ dialect: new PostgresDialect({ pool: createPool({ ...config, poolSize: 2 }, log) }), plugins });
  let closed: Promise<void> | undefined;
  return {
    dialect: 'postgres', db, leases, exclusive: false, pg: clientConfig(config), describe: redactUrl(config.url),
    close: () => (closed ??= Promise.all([db.destroy(), leases.destroy()]).then(() => undefined)),
  };
}

/** The URL without a password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch { return 'postgres://…'; }
}
