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
import type { Logger } from '../logger.js';
import type { Dict } from '../messages/types.js';
import type { PublicationData } from '../routing/publication.js';
import { cborSerializer } from '../serializers/cbor.js';
import type { DecodeLimits } from '../serializers/serializer.js';
import { compileReceiverFilter, receiverLists } from './receiver-filter.js';
import type { DurableHistory, HistoryEntryConfig, OpenDurableHistory, StoredEvent } from './event-history.js';
import { loadSqlite, type SqliteDatabase, type SqliteStatement } from './history-store-driver.js';

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
/** A failing write is logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/** PRAGMA user_version of the file's layout; a file of a later one is refused. */
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

/** Rows were written by this router within its endpoint's bounds; reading them back is held only to the widest the config allows. */
const ROW_DECODE_LIMITS: DecodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };

/** args, kwargs, payload, details and the black/whitelists, in CBOR: binary values and 64-bit integers come back as they went in. */
function encodeBody(e: StoredEvent): Uint8Array {
  const d = e.data;
  return cborSerializer.encode([d.args ?? null, d.kwargs ?? null, d.payload ?? null, d.details, e.filter === null ? null : receiverLists(e.filter.options)]) as Uint8Array;
}

function decodeBody(body: Uint8Array): { data: PublicationData; lists: Dict | null } {
  const v = cborSerializer.decode(body, ROW_DECODE_LIMITS);
  if (!Array.isArray(v) || v.length !== 5) throw new Error('not an event record');
  const [args, kwargs, payload, details, lists] = v as [unknown, unknown, unknown, unknown, unknown];
  const data: PublicationData = { details: isDict(details) ? details : {} };
  if (Array.isArray(args)) data.args = args;
  if (isDict(kwargs)) data.kwargs = kwargs;
  if (typeof payload === 'string' || payload instanceof Uint8Array) data.payload = payload;
  return { data, lists: isDict(lists) ? lists : null };
}

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

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
  private timer: NodeJS.Timeout | undefined;
  private nextSeq: number;
  private closed = false;
  private lastErrorLog = -Infinity;
  private readonly insert: SqliteStatement;
  private readonly trim: SqliteStatement;
  private readonly writeBatch: (batch: readonly Pending[]) => void;

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
    db.transaction(() => {
      db.exec(SCHEMA);
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
    this.writeBatch = db.transaction((batch: readonly Pending[]) => this.write(batch));
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
          try { body = decodeBody(row.body); } catch { unreadable++; continue; }
          e = { publication: row.publication, topic: row.topic, timestamp: row.timestamp, data: body.data, filter: body.lists === null ? null : compileReceiverFilter(body.lists) };
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
    if (this.pending.length >= MAX_PENDING) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), FLUSH_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** Writes the pending events in one transaction. A failure is logged and the batch dropped (the rings still have it). */
  flush(): void {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.writeBatch(batch);
    } catch (e) {
      const now = Date.now();
      if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
      this.lastErrorLog = now;
      this.log.warn({ realm: this.realm, err: (e as Error).message, events: batch.length, note: 'logged at most once a minute' }, 'event history: a batch could not be written to the file (kept in memory only)');
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
