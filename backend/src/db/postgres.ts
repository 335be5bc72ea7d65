// PostgreSQL through node-postgres (`pg`): the pool's settings, migrations
// under an advisory lock (instances that start together migrate once), and
// the LISTEN connection that brings other instances' changes to a machine's
// owner (NOTIFY, sent inside the changing transaction, arrives only once it
// committed, in commit order).
import pg from 'pg';
import type { Logger } from '../logger.js';
import type { Migration } from './migrations.js';

export interface PostgresOptions {
  url: string;
  /** Overrides the URL's password (and PGPASSWORD, which pg reads by itself). */
  password?: string | undefined;
  poolSize: number;
  /** Every statement, including a wait for a row lock, ends with an error after this. */
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

/** int8 (counts, ids, ms since the epoch) and numeric as JS numbers: all we store fits 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 || oid === 1700 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text'))) as typeof pg.types.getTypeParser,
};

export function clientConfig(o: PostgresOptions): pg.ClientConfig {
  return {
    connectionString: o.url,
    ...(o.password !== undefined ? { password: o.password } : {}),
    connectionTimeoutMillis: o.connectTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
    // A transaction left open by a stuck instance must not hold a machine's row lock for long.
    idle_in_transaction_session_timeout: Math.max(1000, o.statementTimeoutMs * 2),
    application_name: 'clawgate-backend',
    types,
  };
}

export function createPool(o: PostgresOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(o), max: o.poolSize });
  // An idle connection that breaks (the server restarting) is dropped by the pool; without a listener it would crash us.
  pool.on('error', (err) => log.warn({ err: err.message }, 'PostgreSQL connection lost (idle in the pool)'));
  return pool;
}

/** Any constant: the key of the advisory lock migrations run under. */
const MIGRATION_LOCK = 0x636c6177; // "claw"

/** Applies the migrations not yet recorded (each in its own transaction); returns the versions applied. */
export async function migratePostgres(pool: pg.Pool, migrations: readonly Migration[]): Promise<number[]> {
  const c = await pool.connect();
  const applied: number[] = [];
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const done = new Set((await c.query<{ version: number }>('SELECT version FROM migrations')).rows.map((r) => Number(r.version)));
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK');
          throw e;
        }
        applied.push(m.version);
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    c.release();
  }
  return applied;
}

/**
 * One connection that LISTENs on `channel` and hands each payload to
 * `onMessage`. When it breaks it reconnects (0.5 s, growing to 5 s), and
 * `onResumed` is called after each reconnect: notifications sent meanwhile
 * are lost, so the owner rereads what it owns.
 */
export class ChangeListener {
  private client: pg.Client | undefined;
  private stopped = false;
  private delay = 500;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly onMessage: (payload: string) => void,
    private readonly onResumed: () => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.connect(false);
  }

  private async connect(resumed: boolean): Promise<void> {
    // No statement timeout on a connection that only waits.
    const client = new pg.Client({ ...this.config, statement_timeout: undefined, idle_in_transaction_session_timeout: undefined });
    client.on('notification', (n) => { if (n.channel === this.channel && n.payload !== undefined) this.onMessage(n.payload); });
    const broken = (err?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.log.warn({ err: err?.message }, 'PostgreSQL LISTEN connection lost; reconnecting');
      this.retry();
    };
    client.on('error', broken);
    client.on('end', () => broken());
    await client.connect();
    await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    if (this.stopped) { await client.end(); return; }
    this.client = client;
    this.delay = 500;
    if (resumed) this.onResumed();
  }

  private retry(): void {
    this.timer = setTimeout(() => {
      this.connect(true).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'PostgreSQL LISTEN reconnect failed');
        if (!this.stopped) this.retry();
      });
    }, this.delay);
    this.delay = Math.min(5000, this.delay * 2);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}
