// The durable copy of a realm's persistent subscriptions: two tables in the
// realm's event history file (history-store.ts opens it, batches the writes
// with its own and closes it; "one store, not two"). The subscriptions in
// memory (persistent-subscriptions.ts) stay the truth: this is filled from
// them as they change and read back only when the router starts.
//
// A subscription is one row (who, what it observes, its ttl and when it was
// detached); each event it keeps is one row, keyed by (authid, name, seq)
// with `seq` rising across the file, so the oldest are the lowest.
import { MATCH_POLICIES, type MatchPolicy } from '../messages/options.js';
import type { PublicationData } from '../routing/publication.js';
import { decodePublication, encodePublication } from './publication-codec.js';
import type { SqliteDatabase, SqliteStatement } from './history-store-driver.js';

/** A persistent subscription as the store keeps it. */
export interface PersistentRow {
  readonly authid: string;
  readonly name: string;
  readonly uri: string;
  readonly match: MatchPolicy;
  /** Its event filter's normal form (x_filter), or null. */
  readonly filter: string | null;
  /** The role its events were kept for (black/whitelists by role). */
  readonly authrole: string;
  /** Seconds it lives detached. */
  readonly ttl: number;
  /** ISO time it was created. */
  readonly created: string;
  /** ms since the epoch it was detached; null while a session holds it. */
  readonly detachedAt: number | null;
  /** Events it could not keep (its bounds) since it was last detached. */
  readonly dropped: number;
}

/** One event a persistent subscription keeps. */
export interface PersistentEventRow {
  readonly seq: number;
  readonly publication: number;
  readonly topic: string;
  /** ms since the epoch it was kept. */
  readonly at: number;
  readonly data: PublicationData;
  /** What it counts against the byte bounds (event-size.ts). */
  readonly size: number;
}

/** What persistent subscriptions need of the realm's durable store; writes are batched by it. */
export interface DurablePersistent {
  /** Every subscription in the file with its events, oldest first. */
  load(): { row: PersistentRow; events: PersistentEventRow[] }[];
  /** Creates or replaces the subscription's row. */
  save(row: PersistentRow): void;
  /** Deletes the subscription and its events. */
  remove(authid: string, name: string): void;
  append(authid: string, name: string, e: PersistentEventRow): void;
  /** Deletes the subscription's events up to and including `seq`. */
  removeEvents(authid: string, name: string, throughSeq: number): void;
  /** Logs a warning about the store (rows that could not be used). */
  warn(fields: Record<string, unknown>, message: string): void;
}

export type PersistentOp =
  | { readonly kind: 'save'; readonly row: PersistentRow }
  | { readonly kind: 'remove'; readonly authid: string; readonly name: string }
  | { readonly kind: 'append'; readonly authid: string; readonly name: string; readonly e: PersistentEventRow }
  | { readonly kind: 'remove_events'; readonly authid: string; readonly name: string; readonly seq: number };

export const PERSISTENT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS persistent_subscription (
    authid TEXT NOT NULL,
    name TEXT NOT NULL,
    uri TEXT NOT NULL,
    match TEXT NOT NULL,
    filter TEXT,
    authrole TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    created TEXT NOT NULL,
    detached_at INTEGER,
    dropped INTEGER NOT NULL,
    PRIMARY KEY (authid, name)
  );
  CREATE TABLE IF NOT EXISTS persistent_event (
    authid TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    publication INTEGER NOT NULL,
    topic TEXT NOT NULL,
    at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (authid, name, seq)
  );
`;

interface SubRow { authid: string; name: string; uri: string; match: string; filter: string | null; authrole: string; ttl: number; created: string; detached_at: number | null; dropped: number }
interface EventRow { authid: string; name: string; seq: number; publication: number; topic: string; at: number; size: number; body: Uint8Array }

const isMatch = (v: string): v is MatchPolicy => (MATCH_POLICIES as readonly string[]).includes(v);

/** The tables in an open database (the history store's); the caller runs apply() inside its transactions. */
export class SqlitePersistentTables {
  private readonly saveRow: SqliteStatement;
  private readonly removeRow: SqliteStatement;
  private readonly removeAll: SqliteStatement;
  private readonly insertEvent: SqliteStatement;
  private readonly removeThrough: SqliteStatement;

  /** Creates the tables if needed (call inside the store's opening transaction). */
  constructor(private readonly db: SqliteDatabase) {
    db.exec(PERSISTENT_SCHEMA);
    this.saveRow = db.prepare(`INSERT OR REPLACE INTO persistent_subscription (authid, name, uri, match, filter, authrole, ttl, created, detached_at, dropped)
      VALUES (@authid, @name, @uri, @match, @filter, @authrole, @ttl, @created, @detachedAt, @dropped)`);
    this.removeRow = db.prepare('DELETE FROM persistent_subscription WHERE authid = ? AND name = ?');
    this.removeAll = db.prepare('DELETE FROM persistent_event WHERE authid = ? AND name = ?');
    this.insertEvent = db.prepare('INSERT OR REPLACE INTO persistent_event (authid, name, seq, publication, topic, at, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.removeThrough = db.prepare('DELETE FROM persistent_event WHERE authid = ? AND name = ? AND seq <= ?');
  }

  /** Subscriptions and their events; rows that can't be read are left out and counted. */
  load(): { subscriptions: { row: PersistentRow; events: PersistentEventRow[] }[]; unreadable: number } {
    let unreadable = 0;
    const byKey = new Map<string, { row: PersistentRow; events: PersistentEventRow[] }>();
    const key = (authid: string, name: string): string => JSON.stringify([authid, name]);
    for (const r of this.db.prepare('SELECT * FROM persistent_subscription').all() as SubRow[]) {
      if (!isMatch(r.match)) { unreadable++; this.removeRow.run(r.authid, r.name); continue; }
      byKey.set(key(r.authid, r.name), {
        row: { authid: r.authid, name: r.name, uri: r.uri, match: r.match, filter: r.filter, authrole: r.authrole, ttl: r.ttl, created: r.created, detachedAt: r.detached_at, dropped: r.dropped },
        events: [],
      });
    }
    const events = this.db.prepare('SELECT authid, name, seq, publication, topic, at, size, body FROM persistent_event ORDER BY seq').all() as EventRow[];
    for (const e of events) {
      const sub = byKey.get(key(e.authid, e.name));
      if (sub === undefined) continue; // deleted below
      // The black/whitelists were applied when the event was kept, so none are stored.
      let data: PublicationData;
      try { data = decodePublication(e.body).data; } catch { unreadable++; continue; }
      sub.events.push({ seq: e.seq, publication: e.publication, topic: e.topic, at: e.at, size: e.size, data });
    }
    // Events without their subscription's row (one that could not be read, a hand-edited file).
    this.db.exec('DELETE FROM persistent_event WHERE NOT EXISTS (SELECT 1 FROM persistent_subscription s WHERE s.authid = persistent_event.authid AND s.name = persistent_event.name)');
    return { subscriptions: [...byKey.values()], unreadable };
  }

  /** The last append's data and its encoding (see apply). */
  private lastData: PublicationData | undefined;
  private lastBody: Uint8Array | undefined;

  apply(op: PersistentOp): void {
    switch (op.kind) {
      case 'save': {
        const r = op.row;
        this.saveRow.run({ authid: r.authid, name: r.name, uri: r.uri, match: r.match, filter: r.filter, authrole: r.authrole, ttl: r.ttl, created: r.created, detachedAt: r.detachedAt, dropped: r.dropped });
        return;
      }
      case 'remove':
        this.removeRow.run(op.authid, op.name);
        this.removeAll.run(op.authid, op.name);
        return;
      case 'append': {
        const e = op.e;
        // One publication kept by N detached subscriptions is N appends in a row, sharing its data: encoded once.
        if (e.data !== this.lastData) { this.lastData = e.data; this.lastBody = encodePublication(e.data, null); }
        this.insertEvent.run(op.authid, op.name, e.seq, e.publication, e.topic, e.at, e.size, this.lastBody);
        return;
      }
      case 'remove_events':
        this.removeThrough.run(op.authid, op.name, op.seq);
        return;
    }
  }
}
