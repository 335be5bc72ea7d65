// The tables as Kysely sees them (camelCase here, snake_case in SQL: the
// CamelCasePlugin maps one to the other). Both stores have the same tables
// and columns; their DDL differs only in types (migrations.ts for SQLite,
// migrations-postgres.ts for PostgreSQL). Times are ms since the epoch.
import type { Generated } from 'kysely';
import type { TurnResult } from '@clawgate/protocol';

export type EntryState = 'waiting' | 'ready_check' | 'starting' | 'playing';
export type RemovalReason = 'timeout' | 'kicked' | 'grace_expired';
/** Whether the claw node must still be told that a turn ended (end_turn), and whether it was. */
export type NodeEnd = 'pending' | 'done';

export interface PlayersTable {
  authid: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  address: string | null;
}

export interface MachinesTable {
  id: string;
  firstSeen: number;
  paused: Generated<number>;
  moveSeconds: number | null;
  readyWindowSeconds: number | null;
  graceSeconds: number | null;
  maxQueue: number | null;
  avgTurnMs: number | null;
  turnsCount: Generated<number>;
  avgReadyMs: number | null;
  avgDropMs: number | null;
}

/**
 * Who runs a machine's turns and timers. A table of its own, not columns of
 * `machines`: that row is locked by every state change of the machine, and a
 * renewal must not queue behind them.
 */
export interface MachineLeasesTable {
  machine: string;
  /** The backend instance that owns the machine, or null. */
  owner: string | null;
  /** When the owner's lease runs out unless renewed (the store's clock). */
  leaseUntil: Generated<number>;
  /** Counts the hand-overs: an owner's state changes are fenced by (owner, epoch). */
  leaseEpoch: Generated<number>;
}

export interface QueueEntriesTable {
  id: Generated<number>;
  machine: string;
  authid: string;
  seq: number;
  state: EntryState;
  joinedAt: number;
  readyDeadline: number | null;
  turnId: number | null;
  disconnectedAt: number | null;
  askedAt: number | null;
  readyExtended: Generated<number>;
}

export interface TurnsTable {
  id: Generated<number>;
  machine: string;
  authid: string;
  name: string;
  startedAt: number;
  endsAt: number | null;
  endedAt: number | null;
  result: TurnResult | null;
  endedBy: string | null;
  endReason: string | null;
  /** When the owner called start_turn (null: not yet; it is called exactly once per owner). */
  startSentAt: number | null;
  /** The node's start_turn registration the turn was started under (a new one means the node restarted). */
  startRegistration: number | null;
  nodeEnd: NodeEnd | null;
  /**
   * The result the node's turn_ended gave, written by any instance that heard it
   * (not only the owner): the owner that records the turn's end may die first.
   */
  nodeResult: TurnResult | null;
}

export interface AdminActionsTable {
  id: Generated<number>;
  at: number;
  machine: string;
  action: string;
  actor: string | null;
  target: string | null;
  turnId: number | null;
  detail: string | null;
}

export interface RemovalsTable {
  id: Generated<number>;
  at: number;
  machine: string;
  authid: string;
  name: string;
  reason: RemovalReason;
  actor: string | null;
  blockedUntil: number | null;
}

export interface BlocksTable {
  machine: string;
  authid: string;
  until: number;
  actor: string | null;
}

/** The backend instances that share the store, and the router session each is attached with (null: detached). */
export interface BackendInstancesTable {
  id: string;
  wampSession: number | null;
  host: string;
  pid: number;
  startedAt: number;
  heartbeatAt: number;
}

export interface MigrationsTable {
  version: number;
  name: string;
  appliedAt: number;
}

export interface DB {
  players: PlayersTable;
  machines: MachinesTable;
  machineLeases: MachineLeasesTable;
  queueEntries: QueueEntriesTable;
  turns: TurnsTable;
  adminActions: AdminActionsTable;
  removals: RemovalsTable;
  blocks: BlocksTable;
  backendInstances: BackendInstancesTable;
  migrations: MigrationsTable;
}
