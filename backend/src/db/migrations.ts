// SQLite's schema migrations, applied in order, each in its own transaction,
// and recorded in `migrations` so a restart applies only the new ones. Never
// edit a released migration: add the next one. PostgreSQL has its own set
// (migrations-postgres.ts) that ends at the same tables and columns.
export interface Migration { version: number; name: string; sql: string }

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'queues, turns, machines, players',
    sql: `
      CREATE TABLE players (
        authid     TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE machines (
        id                   TEXT PRIMARY KEY,
        first_seen           INTEGER NOT NULL,
        paused               INTEGER NOT NULL DEFAULT 0,
        move_seconds         REAL,
        ready_window_seconds REAL,
        grace_seconds        REAL,
        max_queue            INTEGER,
        avg_turn_ms          REAL,
        turns_count          INTEGER NOT NULL DEFAULT 0
      );
      -- One row per player waiting on (or playing) a machine. seq orders the
      -- queue (lowest = front); a player put back to the front gets min(seq) - 1.
      CREATE TABLE queue_entries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        machine         TEXT NOT NULL REFERENCES machines(id),
        authid          TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('waiting', 'ready_check', 'starting', 'playing')),
        joined_at       INTEGER NOT NULL,
        ready_deadline  INTEGER,
        turn_id         INTEGER REFERENCES turns(id),
        disconnected_at INTEGER,
        UNIQUE (machine, authid)
      );
      CREATE INDEX queue_entries_order ON queue_entries (machine, seq);
      CREATE INDEX queue_entries_authid ON queue_entries (authid);
      CREATE TABLE turns (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        machine    TEXT NOT NULL REFERENCES machines(id),
        authid     TEXT NOT NULL,
        name       TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ends_at    INTEGER,
        ended_at   INTEGER,
        result     TEXT CHECK (result IS NULL OR result IN ('win', 'lose', 'timeout', 'abandoned', 'skipped')),
        ended_by   TEXT
      );
      CREATE INDEX turns_machine ON turns (machine, id);
      -- Operator actions (pause, resume, skip, kick, settings): who, what, when.
      CREATE TABLE admin_actions (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        machine TEXT NOT NULL,
        action  TEXT NOT NULL,
        actor   TEXT,
        target  TEXT,
        turn_id INTEGER REFERENCES turns(id),
        detail  TEXT
      );
    `,
  },
  {
    version: 2,
    name: 'guest rows: minting address, expiry index',
    sql: `
      -- The client address (IPv4, or the IPv6 /64) a guest was minted from: the
      -- key of the per-address queue quota. NULL for players minted before this
      -- migration until their next POST /api/session, and for authids with no
      -- guest row (tickets signed elsewhere): no quota applies to them.
      ALTER TABLE players ADD COLUMN address TEXT;
      CREATE INDEX players_address ON players (address);
      -- The guest sweep walks rows by last use (updated_at = the last POST /api/session).
      CREATE INDEX players_updated ON players (updated_at, authid);
    `,
  },
  {
    version: 3,
    name: 'issue 14: ready checks, why turns ended, removals, kick blocks, wait estimates',
    sql: `
      -- When the entry was asked to get ready (the measured time to confirm feeds
      -- the wait estimate), and whether its deadline was already pushed once
      -- for a player coming back after a restart.
      ALTER TABLE queue_entries ADD COLUMN asked_at INTEGER;
      ALTER TABLE queue_entries ADD COLUMN ready_extended INTEGER NOT NULL DEFAULT 0;
      -- Why a turn ended beyond its result (TurnEndReason of the protocol); NULL for older turns.
      ALTER TABLE turns ADD COLUMN end_reason TEXT;
      -- Running averages for the wait estimate: asked → confirmed, endsAt → result.
      ALTER TABLE machines ADD COLUMN avg_ready_ms REAL;
      ALTER TABLE machines ADD COLUMN avg_drop_ms REAL;
      -- Players removed from a queue without a turn (no-shows, kicks, grace
      -- expiries), for the dashboard's table; bounded (history.maxRemovals).
      CREATE TABLE removals (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        at            INTEGER NOT NULL,
        machine       TEXT NOT NULL,
        authid        TEXT NOT NULL,
        name          TEXT NOT NULL,
        reason        TEXT NOT NULL CHECK (reason IN ('timeout', 'kicked', 'grace_expired')),
        actor         TEXT,
        blocked_until INTEGER
      );
      CREATE INDEX removals_machine ON removals (machine, id);
      -- A kicked player may not join that machine's queue again until \`until\`; bounded (kicks.maxBlocks).
      CREATE TABLE blocks (
        machine TEXT NOT NULL,
        authid  TEXT NOT NULL,
        until   INTEGER NOT NULL,
        actor   TEXT,
        PRIMARY KEY (machine, authid)
      );
      CREATE INDEX blocks_until ON blocks (until);
    `,
  },
  {
    version: 4,
    name: 'issue 19: machine leases, backend instances, node commands by the owner, one turn at a time enforced',
    sql: `
      -- The instance that owns a machine (runs its timers and talks to its node), until when, and a
      -- counter of hand-overs that fences an old owner's writes. Apart from \`machines\`, whose row every
      -- state change of the machine locks: a renewal must not wait behind them.
      CREATE TABLE machine_leases (
        machine     TEXT PRIMARY KEY REFERENCES machines(id),
        owner       TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        lease_epoch INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX machine_leases_owner ON machine_leases (owner);
      -- start_turn is called by the owner once the turn row exists; whether (and under which node
      -- registration) it was, and whether the node must still be told with end_turn that the turn ended.
      ALTER TABLE turns ADD COLUMN start_sent_at INTEGER;
      ALTER TABLE turns ADD COLUMN start_registration INTEGER;
      ALTER TABLE turns ADD COLUMN node_end TEXT CHECK (node_end IS NULL OR node_end IN ('pending', 'done'));
      -- The node's turn_ended result, kept by every instance that hears it: the owner may die before it records the end.
      ALTER TABLE turns ADD COLUMN node_result TEXT;
      -- Turns left open without an entry (none should be) are closed, so the index below can hold.
      UPDATE turns SET result = 'abandoned', ended_at = started_at, end_reason = 'node_lost'
        WHERE result IS NULL AND id NOT IN (SELECT turn_id FROM queue_entries WHERE turn_id IS NOT NULL);
      -- Earlier versions called start_turn right after creating the turn.
      UPDATE turns SET start_sent_at = started_at WHERE result IS NULL;
      -- Never two turns at once on one machine, and at most one entry asked or playing.
      CREATE UNIQUE INDEX turns_one_running ON turns (machine) WHERE result IS NULL;
      CREATE UNIQUE INDEX queue_entries_one_current ON queue_entries (machine) WHERE state <> 'waiting';
      CREATE UNIQUE INDEX queue_entries_seq ON queue_entries (machine, seq);
      CREATE INDEX turns_node_end ON turns (machine) WHERE node_end = 'pending';
      CREATE TABLE backend_instances (
        id           TEXT PRIMARY KEY,
        wamp_session INTEGER,
        host         TEXT NOT NULL,
        pid          INTEGER NOT NULL,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
    `,
  },
];
