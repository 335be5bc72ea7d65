// The event history's durable copy: a SQLite file per realm (realm `store`
// type "sqlite", a ClawGate extension; Crossbar's durable store is cfxdb,
// an LMDB database of its own). The rings in event-history.ts stay the
// read path; this file is what they are filled from at start.
//
// Writes leave the publication's path: append() only queues the event, and
// one transaction a little later (FLUSH_INTERVAL_MS, or at once when
// MAX_PENDING events wait) inserts the batch and trims each entry it
// touched back to its limit. WAL with synchronous=NORMAL: a commit does not
// wait for the disk, so a batch costs the event loop no fsync; a process
// crash loses the batch not yet written, a power loss may also lose the
// last commits (the file stays consistent either way). close() writes the
// last batch.
//
// A row is one event of one entry, keyed by the entry's (match, uri): an
// event kept by two entries is two rows with the same `seq`, so each
// entry's rows are trimmed alone and the file holds at most the sum over
// entries of limit × event size. The black/whitelists are stored as the
// lists, and compiled again when the event is loaded.
//
// The same file keeps the realm's persistent subscriptions (their tables are
// persistent-store.ts): one durable store per realm, written in the same
// batches and transactions.
import type { Logger } from '../logger.js';
import { compileReceiverFilter, receiverLists } from './receiver-filter.js';
import type { DurableHistory, HistoryEntryConfig, OpenDurableHistory, StoredEvent } from './event-history.js';
import { loadSqlite, type SqliteDatabase, type SqliteStatement } from './history-store-driver.js';
import { decodePublication, encodePublication } from './publication-codec.js';
import { SqlitePersistentTables, type DurablePersistent, type PersistentOp } from './persistent-store.js';

/** A realm's durable history store (RealmConfig.historyStore). */
export interface HistoryStoreConfig {
  readonly type: 'sqlite';
  /** The SQLite file (absolute, or relative to the working directory). */
  readonly path: string;
}

/** How long an event waits before its batch is written. */
export const FLUSH_INTERVAL_MS = 50;
/** Events that make a batch written at once, without waiting for the interval. */
export const MAX_PENDING = 1000;
/** Persistent subscription changes kept for another try after a failed write, at most. */
const MAX_RETRIED_OPS = 10 * MAX_PENDING;
/** How long after a failed write it is tried again. */
const RETRY_INTERVAL_MS = 1000;
/** A failing write is logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * PRAGMA user_version of the file's layout; a file of a later one is refused.
 * Still 1 with the persistent subscriptions' tables: they are only added,
 * and a router from before them opens the file and leaves them alone.
 */
const SCHEMA_VERSION = 1;
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS history_event (
    match TEXT NOT NULL,
    uri TEXT NOT NULL,
    seq INTEGER NOT NULL,
    publication INTEGER NOT NULL,
    topic TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    body BLOB NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS history_event_entry ON history_event (match, uri, seq);
`;

function encodeBody(e: StoredEvent): Uint8Array {
  return encodePublication(e.data, e.filter === null ? null : receiverLists(e.filter.options));
}

interface Row { seq: number; publication: number; topic: string; timestamp: string; body: Uint8Array }

interface Pending { readonly seq: number; readonly e: StoredEvent; readonly entries: readonly HistoryEntryConfig[] }

/** Why a file can't be used, in words an operator acts on. */
function openError(realm: string, path: string, e: unknown): Error {
  const err = e as { code?: unknown; message?: unknown };
  const hint = err.code === 'SQLITE_BUSY' ? ' (another router, or another realm of this one, has it open: each realm needs a file of its own)'
    : err.code === 'SQLITE_NOTADB' ? ' (the file is not an event history: move it away, or point store.path elsewhere)'
      : '';
  return new Error(`realm "${realm}": cannot open the event history file ${path}: ${String(err.message ?? e)}${hint}`);
}

export class SqliteHistoryStore implements DurableHistory {
  private pending: Pending[] = [];
  /** Changes to the persistent subscriptions, in the order they were made. */
  private ops: PersistentOp[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nextSeq: number;
  private closed = false;
  private lastErrorLog = -Infinity;
  private readonly insert: SqliteStatement;
  private readonly trim: SqliteStatement;
  private readonly writeBatch: (batch: readonly Pending[], ops: readonly PersistentOp[]) => void;
  private readonly tables: SqlitePersistentTables;
  /** The persistent subscriptions' side of the file (persistent-store.ts); its writes join this store's batches. */
  readonly persistent: DurablePersistent;

  /**
   * Opens (or creates) the file for `entries`: rows of entries no longer in
   * the config are deleted, and each entry is trimmed to its limit. Throws
   * an Error naming the realm and the file when it can't be used.
   */
  static open(config: HistoryStoreConfig, realm: string, entries: readonly HistoryEntryConfig[], log: Logger): SqliteHistoryStore {
    const Database = loadSqlite();
    let db: SqliteDatabase | undefined;
    try {
      db = new Database(config.path);
      // Held until close: a second router on the same file fails here, at start, instead of both trimming each other's rows.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new Error(`written by a later version of the router (layout ${version}; this one reads ${SCHEMA_VERSION})`);
      return new SqliteHistoryStore(db, realm, entries, log);
    } catch (e) {
      db?.close();
      throw openError(realm, config.path, e);
    }
  }

  private constructor(private readonly db: SqliteDatabase, private readonly realm: string, private readonly entries: readonly HistoryEntryConfig[], private readonly log: Logger) {
    let tables: SqlitePersistentTables | undefined;
    db.transaction(() => {
      db.exec(SCHEMA);
      tables = new SqlitePersistentTables(db);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      const configured = new Set(entries.map((e) => `${e.match} ${e.uri}`));
      const drop = db.prepare('DELETE FROM history_event WHERE match = ? AND uri = ?');
      for (const k of db.prepare('SELECT DISTINCT match, uri FROM history_event').all() as { match: string; uri: string }[]) {
        if (!configured.has(`${k.match} ${k.uri}`)) drop.run(k.match, k.uri);
      }
    })();
    this.insert = db.prepare('INSERT INTO history_event (match, uri, seq, publication, topic, timestamp, body) VALUES (?, ?, ?, ?, ?, ?, ?)');
    // Everything of the entry older than its `limit` newest rows.
    this.trim = db.prepare(`DELETE FROM history_event WHERE match = @match AND uri = @uri AND seq <= (
      SELECT seq FROM history_event WHERE match = @match AND uri = @uri ORDER BY seq DESC LIMIT 1 OFFSET @limit)`);
    db.transaction(() => { for (const e of entries) this.trimEntry(e); })();
    this.nextSeq = ((db.prepare('SELECT MAX(seq) AS seq FROM history_event').get() as { seq: number | null }).seq ?? 0) + 1;
    this.writeBatch = db.transaction((batch: readonly Pending[], ops: readonly PersistentOp[]) => {
      this.write(batch);
      for (const op of ops) this.tables.apply(op);
    });
    this.tables = tables!;
    const queue = (op: PersistentOp): void => this.queue(op);
    this.persistent = {
      load: () => {
        const { subscriptions, unreadable } = this.tables.load();
        if (unreadable > 0) this.log.warn({ realm: this.realm, unreadable }, 'persistent subscriptions: rows that could not be read were left out');
        return subscriptions;
      },
      save: (row) => queue({ kind: 'save', row }),
      remove: (authid, name) => queue({ kind: 'remove', authid, name }),
      append: (authid, name, e) => queue({ kind: 'append', authid, name, e }),
      removeEvents: (authid, name, seq) => queue({ kind: 'remove_events', authid, name, seq }),
      warn: (fields, message) => this.log.warn({ realm: this.realm, ...fields }, message),
    };
  }

  private trimEntry(e: HistoryEntryConfig): void {
    this.trim.run({ match: e.match, uri: e.uri, limit: e.limit });
  }

  load(): StoredEvent[][] {
    const select = this.db.prepare('SELECT seq, publication, topic, timestamp, body FROM history_event WHERE match = ? AND uri = ? ORDER BY seq DESC LIMIT ?');
    const bySeq = new Map<number, StoredEvent>();
    let unreadable = 0;
    const out = this.entries.map((entry) => {
      const events: StoredEvent[] = [];
      for (const row of (select.all(entry.match, entry.uri, entry.limit) as Row[]).reverse()) {
        let e = bySeq.get(row.seq);
        if (e === undefined) {
          let body;
          try { body = decodePublication(row.body); } catch { unreadable++; continue; }
          e = { publication: row.publication, topic: row.topic, timestamp: row.timestamp, data: body.data, filter: body.lists === null ? null : compileReceiverFilter(body.lists), size: row.body.byteLength };
          bySeq.set(row.seq, e);
        }
        events.push(e);
      }
      return events;
    });
    if (unreadable > 0) this.log.warn({ realm: this.realm, unreadable }, 'event history: rows that could not be read were left out');
    return out;
  }

  append(e: StoredEvent, entries: readonly HistoryEntryConfig[]): void {
    if (this.closed) return;
    this.pending.push({ seq: this.nextSeq++, e, entries });
    this.scheduled();
  }

  private queue(op: PersistentOp): void {
    if (this.closed) return;
    this.ops.push(op);
    this.scheduled();
  }

  /** A batch is written FLUSH_INTERVAL_MS after its first change, or at once when MAX_PENDING changes wait. */
  private scheduled(): void {
    if (this.pending.length + this.ops.length >= MAX_PENDING) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /**
   * Writes the pending events and persistent subscription changes in one
   * transaction. A failure is logged; the events are dropped (the rings
   * still have them), the persistent subscription changes are tried again
   * a second later, up to MAX_RETRIED_OPS of them: a lost `remove` would
   * bring a dropped subscription back at the next start, a lost
   * `remove_events` replay its events again.
   */
  flush(): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.pending.length === 0 && this.ops.length === 0) return;
    const batch = this.pending;
    const ops = this.ops;
    this.pending = [];
    this.ops = [];
    try {
      this.writeBatch(batch, ops);
    } catch (e) {
      if (ops.length > 0 && !this.closed && ops.length + this.ops.length <= MAX_RETRIED_OPS) {
        this.ops = [...ops, ...this.ops];
        if (this.timer === undefined) {
          this.timer = setTimeout(() => this.flush(), RETRY_INTERVAL_MS);
          this.timer.unref();
        }
      }
      const now = Date.now();
      if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
      this.lastErrorLog = now;
      this.log.warn({ realm: this.realm, err: (e as Error).message, events: batch.length, persistent_changes: ops.length, note: 'logged at most once a minute' }, 'event history: a batch could not be written to the file (kept in memory only)');
    }
  }

  /** Inserts a batch and trims the entries it touched; rows the trim would delete at once are not written. */
  private write(batch: readonly Pending[]): void {
    const counts = new Map<HistoryEntryConfig, number>();
    for (const p of batch) for (const en of p.entries) counts.set(en, (counts.get(en) ?? 0) + 1);
    const skip = new Map<HistoryEntryConfig, number>();
    for (const [en, n] of counts) if (n > en.limit) skip.set(en, n - en.limit);
    for (const p of batch) {
      let body: Uint8Array | undefined;
      for (const en of p.entries) {
        const s = skip.get(en);
        if (s !== undefined && s > 0) { skip.set(en, s - 1); continue; }
        body ??= encodeBody(p.e);
        this.insert.run(en.match, en.uri, p.seq, p.e.publication, p.e.topic, p.e.timestamp, body);
      }
    }
    for (const en of counts.keys()) this.trimEntry(en);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // A failed last write is not tried again: the file is closing.
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    try {
      this.db.close();
    } catch (e) {
      this.log.warn({ realm: this.realm, err: (e as Error).message }, 'event history: closing the file failed');
    }
  }
}

/** The durable store of a realm's history, for EventHistory to open when the router starts. */
export function sqliteHistory(config: HistoryStoreConfig, realm: string, log: Logger): OpenDurableHistory {
  return (entries) => SqliteHistoryStore.open(config, realm, entries, log);
}
