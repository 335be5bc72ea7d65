// Every SQL statement the backend runs, as typed methods. Callers group them
// into one transaction per state change with `tx`.
import type { TurnResult } from '@clawgate/protocol';
import type { Db } from './database.js';

export type EntryState = 'waiting' | 'ready_check' | 'starting' | 'playing';

export interface Entry {
  id: number;
  machine: string;
  authid: string;
  seq: number;
  state: EntryState;
  joinedAt: number;
  readyDeadline: number | null;
  turnId: number | null;
  disconnectedAt: number | null;
  /** When the entry was last asked to get ready. */
  askedAt: number | null;
  /** The ready deadline was pushed once already for a player coming back after a restart (0/1). */
  readyExtended: number;
  /** The player's display name (the authid when none is stored). */
  name: string;
}

export interface MachineRow {
  id: string;
  firstSeen: number;
  paused: boolean;
  moveSeconds: number | null;
  readyWindowSeconds: number | null;
  graceSeconds: number | null;
  maxQueue: number | null;
  avgTurnMs: number | null;
  turnsCount: number;
  /** Running average of asked → confirmed (ms). */
  avgReadyMs: number | null;
  /** Running average of a turn's endsAt → its result, for turns that ran to the end (ms). */
  avgDropMs: number | null;
}

export interface TurnRow {
  id: number;
  machine: string;
  authid: string;
  name: string;
  startedAt: number;
  endsAt: number | null;
  endedAt: number | null;
  result: TurnResult | null;
  endedBy: string | null;
  /** Why it ended (TurnEndReason), null while running and for turns from before migration 3. */
  endReason: string | null;
}

export type RemovalReason = 'timeout' | 'kicked' | 'grace_expired';

export interface RemovalRow {
  id: number;
  at: number;
  machine: string;
  authid: string;
  name: string;
  reason: RemovalReason;
  actor: string | null;
  blockedUntil: number | null;
}

const ENTRY_COLUMNS = `e.id, e.machine, e.authid, e.seq, e.state, e.joined_at AS joinedAt, e.ready_deadline AS readyDeadline,
  e.turn_id AS turnId, e.disconnected_at AS disconnectedAt, e.asked_at AS askedAt, e.ready_extended AS readyExtended,
  COALESCE(p.name, e.authid) AS name`;
const MACHINE_COLUMNS = `id, first_seen AS firstSeen, paused, move_seconds AS moveSeconds, ready_window_seconds AS readyWindowSeconds,
  grace_seconds AS graceSeconds, max_queue AS maxQueue, avg_turn_ms AS avgTurnMs, turns_count AS turnsCount,
  avg_ready_ms AS avgReadyMs, avg_drop_ms AS avgDropMs`;
const TURN_COLUMNS = `id, machine, authid, name, started_at AS startedAt, ends_at AS endsAt, ended_at AS endedAt, result, ended_by AS endedBy,
  end_reason AS endReason`;
const REMOVAL_COLUMNS = 'id, at, machine, authid, name, reason, actor, blocked_until AS blockedUntil';

function machineRow(r: Record<string, unknown> | undefined): MachineRow | undefined {
  return r && { ...(r as unknown as MachineRow), paused: r.paused === 1 };
}

export class Repository {
  private readonly s;

  constructor(readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      upsertPlayer: p(`INSERT INTO players (authid, name, created_at, updated_at, address) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (authid) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at,
          address = COALESCE(players.address, excluded.address)`),
      playerName: p('SELECT name FROM players WHERE authid = ?').pluck(),
      playerAddress: p('SELECT address FROM players WHERE authid = ?').pluck(),
      placesOfAddress: p(`SELECT COUNT(*) FROM queue_entries e JOIN players p ON p.authid = e.authid
        WHERE e.machine = ? AND p.address = ?`).pluck(),
      staleGuests: p(`SELECT authid, updated_at AS updatedAt FROM players p
        WHERE p.updated_at < @cutoff AND (p.updated_at > @afterAt OR (p.updated_at = @afterAt AND p.authid > @afterId))
          AND NOT EXISTS (SELECT 1 FROM queue_entries e WHERE e.authid = p.authid)
        ORDER BY p.updated_at, p.authid LIMIT @limit`),
      deleteGuest: p(`DELETE FROM players WHERE authid = ? AND updated_at < ?
        AND NOT EXISTS (SELECT 1 FROM queue_entries e WHERE e.authid = players.authid)`),
      playerCount: p('SELECT COUNT(*) FROM players').pluck(),
      ensureMachine: p('INSERT INTO machines (id, first_seen) VALUES (?, ?) ON CONFLICT (id) DO NOTHING'),
      machine: p(`SELECT ${MACHINE_COLUMNS} FROM machines WHERE id = ?`),
      machines: p(`SELECT ${MACHINE_COLUMNS} FROM machines ORDER BY id`),
      setPaused: p('UPDATE machines SET paused = ? WHERE id = ?'),
      setSettings: p(`UPDATE machines SET move_seconds = COALESCE(@moveSeconds, move_seconds),
        ready_window_seconds = COALESCE(@readyWindowSeconds, ready_window_seconds), grace_seconds = COALESCE(@graceSeconds, grace_seconds),
        max_queue = COALESCE(@maxQueue, max_queue) WHERE id = @id`),
      setAverage: p('UPDATE machines SET avg_turn_ms = ?, turns_count = turns_count + 1 WHERE id = ?'),
      setReadyAverage: p('UPDATE machines SET avg_ready_ms = ? WHERE id = ?'),
      setDropAverage: p('UPDATE machines SET avg_drop_ms = ? WHERE id = ?'),
      entries: p(`SELECT ${ENTRY_COLUMNS} FROM queue_entries e LEFT JOIN players p ON p.authid = e.authid WHERE e.machine = ? ORDER BY e.seq`),
      allEntries: p(`SELECT ${ENTRY_COLUMNS} FROM queue_entries e LEFT JOIN players p ON p.authid = e.authid ORDER BY e.machine, e.seq`),
      entry: p(`SELECT ${ENTRY_COLUMNS} FROM queue_entries e LEFT JOIN players p ON p.authid = e.authid WHERE e.machine = ? AND e.authid = ?`),
      entriesOf: p(`SELECT ${ENTRY_COLUMNS} FROM queue_entries e LEFT JOIN players p ON p.authid = e.authid WHERE e.authid = ? ORDER BY e.machine`),
      count: p('SELECT COUNT(*) FROM queue_entries WHERE machine = ?').pluck(),
      insertEntry: p(`INSERT INTO queue_entries (machine, authid, seq, state, joined_at)
        VALUES (@machine, @authid, (SELECT COALESCE(MAX(seq), 0) + 1 FROM queue_entries WHERE machine = @machine), 'waiting', @now)`),
      deleteEntry: p('DELETE FROM queue_entries WHERE id = ?'),
      setState: p('UPDATE queue_entries SET state = ?, ready_deadline = ?, turn_id = ? WHERE id = ?'),
      ask: p(`UPDATE queue_entries SET state = 'ready_check', ready_deadline = ?, asked_at = ?, ready_extended = 0, turn_id = NULL WHERE id = ?`),
      extendReady: p(`UPDATE queue_entries SET ready_deadline = ?, ready_extended = 1 WHERE id = ? AND state = 'ready_check'`),
      toFront: p(`UPDATE queue_entries SET seq = (SELECT MIN(seq) - 1 FROM queue_entries WHERE machine = ?) WHERE id = ?`),
      disconnect: p('UPDATE queue_entries SET disconnected_at = ? WHERE authid = ? AND disconnected_at IS NULL'),
      reconnect: p('UPDATE queue_entries SET disconnected_at = NULL WHERE authid = ?'),
      insertTurn: p('INSERT INTO turns (machine, authid, name, started_at) VALUES (?, ?, ?, ?)'),
      turnStarted: p('UPDATE turns SET ends_at = ? WHERE id = ?'),
      finishTurn: p('UPDATE turns SET ended_at = ?, result = ?, ended_by = ?, end_reason = ? WHERE id = ? AND result IS NULL'),
      turn: p(`SELECT ${TURN_COLUMNS} FROM turns WHERE id = ?`),
      recentTurns: p(`SELECT ${TURN_COLUMNS} FROM turns WHERE (@machine IS NULL OR machine = @machine) ORDER BY id DESC LIMIT @limit`),
      audit: p('INSERT INTO admin_actions (at, machine, action, actor, target, turn_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      insertRemoval: p('INSERT INTO removals (at, machine, authid, name, reason, actor, blocked_until) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      pruneRemovals: p('DELETE FROM removals WHERE id <= ?'),
      recentRemovals: p(`SELECT ${REMOVAL_COLUMNS} FROM removals WHERE (@machine IS NULL OR machine = @machine) ORDER BY id DESC LIMIT @limit`),
      upsertBlock: p(`INSERT INTO blocks (machine, authid, until, actor) VALUES (?, ?, ?, ?)
        ON CONFLICT (machine, authid) DO UPDATE SET until = excluded.until, actor = excluded.actor`),
      blockUntil: p('SELECT until FROM blocks WHERE machine = ? AND authid = ? AND until > ?').pluck(),
      dropExpiredBlocks: p('DELETE FROM blocks WHERE until <= ?'),
      blockCount: p('SELECT COUNT(*) FROM blocks').pluck(),
      dropSoonestBlocks: p('DELETE FROM blocks WHERE rowid IN (SELECT rowid FROM blocks ORDER BY until LIMIT ?)'),
    };
  }

  /** Runs `fn` in one transaction (BEGIN IMMEDIATE): all of it commits, or none. */
  tx<T>(fn: () => T): T { return this.db.transaction(fn).immediate(); }

  /** Stores the display name and marks the row used now; the minting address is set once (a renewal keeps the first). */
  upsertPlayer(authid: string, name: string, now: number, address: string | null = null): void { this.s.upsertPlayer.run(authid, name, now, now, address); }
  playerName(authid: string): string | undefined { return this.s.playerName.get(authid) as string | undefined; }
  /** The client address a guest was minted from (null: none recorded, or no row). */
  playerAddress(authid: string): string | null { return (this.s.playerAddress.get(authid) as string | null | undefined) ?? null; }
  /** Entries in `machine`'s queue held by players minted from `address`. */
  placesOfAddress(machine: string, address: string): number { return this.s.placesOfAddress.get(machine, address) as number; }
  /** Up to `limit` rows unused since before `cutoff` and not queued, after the (updatedAt, authid) cursor, oldest first. */
  staleGuests(cutoff: number, after: { updatedAt: number; authid: string }, limit: number): { authid: string; updatedAt: number }[] {
    return this.s.staleGuests.all({ cutoff, afterAt: after.updatedAt, afterId: after.authid, limit }) as { authid: string; updatedAt: number }[];
  }
  /** Deletes a guest row if it is still unused since before `cutoff` and not queued; true when deleted. */
  deleteGuest(authid: string, cutoff: number): boolean { return this.s.deleteGuest.run(authid, cutoff).changes === 1; }
  playerCount(): number { return this.s.playerCount.get() as number; }

  ensureMachine(id: string, now: number): void { this.s.ensureMachine.run(id, now); }
  machine(id: string): MachineRow | undefined { return machineRow(this.s.machine.get(id) as Record<string, unknown> | undefined); }
  machines(): MachineRow[] { return (this.s.machines.all() as Record<string, unknown>[]).map((r) => machineRow(r)!); }
  setPaused(id: string, paused: boolean): void { this.s.setPaused.run(paused ? 1 : 0, id); }
  setSettings(id: string, patch: { moveSeconds?: number; readyWindowSeconds?: number; graceSeconds?: number; maxQueue?: number }): void {
    this.s.setSettings.run({ id, moveSeconds: patch.moveSeconds ?? null, readyWindowSeconds: patch.readyWindowSeconds ?? null, graceSeconds: patch.graceSeconds ?? null, maxQueue: patch.maxQueue ?? null });
  }
  recordTurnLength(id: string, avgMs: number): void { this.s.setAverage.run(avgMs, id); }
  recordReadyDelay(id: string, avgMs: number): void { this.s.setReadyAverage.run(avgMs, id); }
  recordDropCycle(id: string, avgMs: number): void { this.s.setDropAverage.run(avgMs, id); }

  entries(machine: string): Entry[] { return this.s.entries.all(machine) as Entry[]; }
  allEntries(): Entry[] { return this.s.allEntries.all() as Entry[]; }
  entry(machine: string, authid: string): Entry | undefined { return this.s.entry.get(machine, authid) as Entry | undefined; }
  entriesOf(authid: string): Entry[] { return this.s.entriesOf.all(authid) as Entry[]; }
  queueLength(machine: string): number { return this.s.count.get(machine) as number; }
  insertEntry(machine: string, authid: string, now: number): void { this.s.insertEntry.run({ machine, authid, now }); }
  deleteEntry(id: number): void { this.s.deleteEntry.run(id); }
  setEntryState(id: number, state: EntryState, readyDeadline: number | null = null, turnId: number | null = null): void { this.s.setState.run(state, readyDeadline, turnId, id); }
  /** The entry is asked to get ready now, until `deadline` (a new ready check: not extended yet). */
  askReady(id: number, deadline: number, now: number): void { this.s.ask.run(deadline, now, id); }
  /** Pushes a ready deadline once (a player back after a restart); false when the entry is not in its ready check. */
  extendReady(id: number, deadline: number): boolean { return this.s.extendReady.run(deadline, id).changes === 1; }
  moveToFront(machine: string, id: number): void { this.s.toFront.run(machine, id); }
  markDisconnected(authid: string, at: number): void { this.s.disconnect.run(at, authid); }
  markConnected(authid: string): void { this.s.reconnect.run(authid); }

  insertTurn(machine: string, authid: string, name: string, startedAt: number): number {
    return Number(this.s.insertTurn.run(machine, authid, name, startedAt).lastInsertRowid);
  }
  turnStarted(id: number, endsAt: number): void { this.s.turnStarted.run(endsAt, id); }
  /** Sets the result once; false when the turn had one already. */
  finishTurn(id: number, endedAt: number, result: TurnResult, endedBy: string | null, endReason: string | null = null): boolean {
    return this.s.finishTurn.run(endedAt, result, endedBy, endReason, id).changes === 1;
  }
  turn(id: number): TurnRow | undefined { return this.s.turn.get(id) as TurnRow | undefined; }
  recentTurns(machine: string | null, limit: number): TurnRow[] { return this.s.recentTurns.all({ machine, limit }) as TurnRow[]; }
  audit(at: number, machine: string, action: string, actor: string | null, target: string | null, turnId: number | null, detail: unknown): void {
    this.s.audit.run(at, machine, action, actor, target, turnId, detail === undefined ? null : JSON.stringify(detail));
  }

  /** Records a removal without a turn; keeps at most `keep` rows (the oldest go). */
  recordRemoval(r: Omit<RemovalRow, 'id'>, keep: number): void {
    const id = Number(this.s.insertRemoval.run(r.at, r.machine, r.authid, r.name, r.reason, r.actor, r.blockedUntil).lastInsertRowid);
    if (id > keep) this.s.pruneRemovals.run(id - keep);
  }
  recentRemovals(machine: string | null, limit: number): RemovalRow[] { return this.s.recentRemovals.all({ machine, limit }) as RemovalRow[]; }

  /** Blocks `authid` from joining `machine` until `until`; keeps at most `keep` blocks (expired ones first, then those ending soonest). */
  block(machine: string, authid: string, until: number, actor: string | null, now: number, keep: number): void {
    this.s.upsertBlock.run(machine, authid, until, actor);
    this.s.dropExpiredBlocks.run(now);
    const over = (this.s.blockCount.get() as number) - keep;
    if (over > 0) this.s.dropSoonestBlocks.run(over);
  }
  /** Until when `authid` may not join `machine` (undefined: not blocked now). */
  blockedUntil(machine: string, authid: string, now: number): number | undefined { return this.s.blockUntil.get(machine, authid, now) as number | undefined; }
}
