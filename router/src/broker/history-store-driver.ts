// better-sqlite3, loaded only when a realm's store is of type "sqlite". The
// router is installed on its own, mostly without a durable history, so the
// native addon is an optional dependency: a router without it runs every
// other store, and one configured for SQLite says at start what to install.
// node:sqlite (Node 22.5+) could replace it once Node 20 is no longer
// supported.
import { createRequire } from 'node:module';

/** What the history store uses of a better-sqlite3 statement. */
export interface SqliteStatement {
  run(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
}

/** What the history store uses of a better-sqlite3 database. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

export type SqliteConstructor = new (path: string) => SqliteDatabase;

export const SQLITE_PACKAGE = 'better-sqlite3';

/** Why `name` could not be loaded, as the start error says it. */
export function sqliteDriverMessage(name: string, e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const missing = err.code === 'MODULE_NOT_FOUND' && typeof err.message === 'string' && err.message.includes(`'${name}'`);
  if (missing) return `store.type sqlite needs the ${name} package: npm install ${name}`;
  // Installed but does not load: usually a native build for another Node version.
  return `store.type sqlite needs the ${name} package, which is installed but does not load (${String(err.message ?? e)}): npm rebuild ${name}`;
}

const loaded = new Map<string, SqliteConstructor>();

/** The better-sqlite3 Database class; throws an Error saying what to install when it is missing. */
export function loadSqlite(name = SQLITE_PACKAGE): SqliteConstructor {
  const cached = loaded.get(name);
  if (cached !== undefined) return cached;
  let ctor: SqliteConstructor;
  try {
    ctor = createRequire(import.meta.url)(name) as SqliteConstructor;
    // The native addon loads with the first database: try it here, so that a
    // broken build is told apart from a file that cannot be opened.
    new ctor(':memory:').close();
  } catch (e) {
    throw new Error(sqliteDriverMessage(name, e));
  }
  loaded.set(name, ctor);
  return ctor;
}
