// The queue service's state machine: every player call, node event and
// presence change comes here. The store (SQLite or PostgreSQL) is the truth;
// each state change is one transaction that locks its machine's row first,
// so changes of one machine are serialized whichever instance makes them.
// Messages to players go out after the commit. Decisions come from
// queue/rules.ts; WAMP is behind `Wire`.
//
// Several instances may run at once (PostgreSQL). Any instance serves any
// procedure (a transaction, then the machine's owner is told: Change). What
// only one party may do for a machine at a time is done by its owner
// (cluster/leases.ts): the ready-check, grace and turn timers, start_turn,
// end_turn and release with the node, reacting to the node's status and
// events and to its players' presence, and every message to the machine's
// players (positions, prompts, control, the retained queue snapshot), one
// task at a time per machine (KeyedSerial). An owner's transactions are
// fenced by its lease. A single instance on SQLite owns every machine.
//
// Per machine, the queue entries move waiting → ready_check → starting →
// playing → (deleted when the turn ends, or back to waiting at the front when
// the turn is abandoned). At most one entry per machine is not `waiting`, and
// at most one turn per machine has no result (both enforced by unique
// indexes). A turn is created by `ready` (any instance); its owner calls
// start_turn once (turns.start_sent_at), and end_turn when a turn that
// reached the node ended (turns.node_end = pending → done).
//
// Players, entries and turns are identified by authid and turn id, never by
// display name: start_turn hands the node the turn id, and the node's events
// and `controlled` status carry it back (queue/rules.ts matchTurnEnd).
import {
  ClawErrors, EventPayload, Roles, StartTurnResult, StatusPayload, isUriComponent, machineReleaseUri, machineUris, playerTopic,
  type AdminTurnRow, type MachineState, type PlayerMessage, type QueueSnapshot, type SlotResult, type TurnEndReason, type TurnResult,
} from '@clawgate/protocol';
import { Leases } from '../cluster/leases.js';
import type { BackendConfig, MachineSettingsPatch, Settings } from '../config.js';
import { LeaseLost, type Entry, type MachineRow, type RemovalReason, type Repository, type TurnRow } from '../db/repository.js';
import { ClawFault } from '../errors.js';
import { LogThrottle, preview, type Logger } from '../logger.js';
import { MachineRegistry } from '../machines/registry.js';
import { isStaleTestament } from '../machines/stale-status.js';
import { Presence } from '../presence/presence.js';
import {
  READY_GUESS_SECONDS, RateLimiter, TURN_OVERHEAD_SECONDS, currentOf, displayState, effectiveSettings, extendedDeadline, graceExpiry,
  isCurrent, joinDecision, matchTurnEnd, nextAverage, nextStep, plannedTurnMs, positionDue, readyDuringTurn, readyTimeoutAt, turnGraceExpiry,
  waitTimes, waitingOf,
} from '../queue/rules.js';
import { CHANGES_CHANNEL, decodeChange, emptyRequest, encodeChange, mergeChange, type Change, type Note, type RefreshRequest } from './changes.js';
import { KeyedSerial } from './serial.js';

/** How the coordinator reaches the router (absent while disconnected). */
export interface Wire {
  publish(topic: string, payload: unknown, retain: boolean): void;
  /** Calls `procedure` with `[payload]`; resolves with args[0]. */
  call(procedure: string, payload: unknown): Promise<unknown>;
}

/** What the router says at (re)connect: our own session, sessions, start_turn registrations. Statuses arrive as events before this. */
export interface RouterSnapshot {
  /** This instance's router session. */
  self?: number;
  sessions: { session: number; authid: string; authrole?: string | undefined }[];
  registrations: { id: number; uri: string }[];
}

/** A turn that runs this long past its endsAt without turn_ended is ended by the backend (`timeout`). */
export const TURN_OVERRUN_MS = 60_000;

/** The authrole backend instances log in with (another instance's session leaving hands its machines over). */
const BACKEND_ROLE = 'backend';

/**
 * Whether a session's presence matters to queues: only players hold places
 * (docs/protocol.md, roles). A router that does not say the role is taken at
 * its word either way. Spectators, operators and claws are not tracked, so an
 * anonymous session costs the backend no lookup of queue places when it joins
 * or leaves (a flood of them did: issue 13's session flood).
 */
export function holdsPlaces(authrole: string | undefined): boolean {
  return authrole === undefined || authrole === Roles.player;
}

/** A machine's state as one refresh reads it. */
interface View { row: MachineRow; entries: Entry[]; turn: TurnRow | undefined; settings: Settings }

/** What a transaction changed, for after its commit. */
interface Outcome { notes: Note[]; forget: string[]; log: () => void }

export interface CoordinatorOptions {
  /** The store admits one backend only (SQLite): this one owns every machine. */
  exclusive: boolean;
  /** Where the leases are renewed and claimed: its own connections (PostgreSQL), so a busy pool never delays a renewal. */
  leaseRepo?: Repository;
  now?: () => number;
}

export class Coordinator {
  readonly registry = new MachineRegistry();
  readonly presence = new Presence();
  readonly leases: Leases;
  private wire: Wire | undefined;
  private selfSession: number | undefined;
  /** Other backend instances' router sessions: when one leaves, its machines are taken over at once. */
  private readonly backendSessions = new Set<number>();
  /** The position last sent to each waiting player, per machine (owner only). */
  private readonly lastSent = new Map<string, Map<string, number>>();
  private readonly readyTimers = new Map<string, { entryId: number; at: number; timer: NodeJS.Timeout }>();
  private readonly overrunTimers = new Map<string, { turnId: number; timer: NodeJS.Timeout }>();
  /** A player in control whose sessions are all gone loses the turn when this fires (presence.turnGraceSeconds). */
  private readonly goneTimers = new Map<string, { turnId: number; at: number; timer: NodeJS.Timeout }>();
  private readonly graceTimers = new Map<string, Map<number, NodeJS.Timeout>>();
  /** When this instance last attached to the router: the recovery window runs from here. */
  private attachedAt = 0;
  /**
   * Queued players absent when this instance attached and not seen since:
   * they may be reconnecting after a restart (the recovery window's rules
   * apply to them only; a player seen after the attach who reloads has the
   * usual ones).
   */
  private readonly awaited = new Set<string>();
  /** A turn_ended that came before its start_turn's answer was handled. */
  private readonly endedWhileStarting = new Map<string, { turnId: number; result: TurnResult }>();
  /**
   * Turns another (dead) instance sent start_turn for, whose answer nobody
   * here awaits: decided from the node (its status or turn_ended) or, when the
   * node says nothing, once that call would have timed out (machine → timer).
   */
  private readonly orphanStarts = new Map<string, NodeJS.Timeout>();
  /** end_turn calls in flight per machine (an old node's turn_ended carries no turn id). */
  private readonly endingByUs = new Map<string, number>();
  /** end_turn calls in flight, by turn id. */
  private readonly endingTurns = new Set<number>();
  /** start_turn calls in flight, by turn id. */
  private readonly startsInFlight = new Set<number>();
  /** An old node's turn_ended without turn id or authid, since the current turn started (matchTurnEnd). */
  private readonly unattributedEnd = new Map<string, { turnId: number; result: TurnResult }>();
  /** Refreshes asked for and not started yet, per machine (merged: a burst of changes costs one refresh). */
  private readonly pendingRefresh = new Map<string, { req: RefreshRequest; done: Promise<void> }>();
  private readonly tasks: KeyedSerial;
  /**
   * One transaction at a time per machine in this instance: they serialize
   * on the machine's row anyway, and a burst of calls for one machine then
   * waits here rather than holding pooled connections that other machines,
   * the owner's work and the lease renewals need.
   */
  private readonly txTurns = new KeyedSerial(() => undefined);
  /** Node messages the backend ignores, logged at most every 10 s per kind. */
  private readonly ignoredLog = { stale: new LogThrottle(10_000), malformed: new LogThrottle(10_000), foreignStatus: new LogThrottle(10_000), staleTestament: new LogThrottle(10_000) };
  private readonly limiter: RateLimiter;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly repo: Repository, private readonly config: BackendConfig, private readonly log: Logger, o: CoordinatorOptions) {
    const leaseRepo = o.leaseRepo ?? repo;
    this.now = o.now ?? Date.now;
    this.limiter = new RateLimiter(config.rateLimit.calls, config.rateLimit.perSeconds);
    this.tasks = new KeyedSerial((machine, err) => this.taskFailed(machine, err));
    this.leases = new Leases(leaseRepo, { leaseMs: config.cluster.leaseSeconds * 1000, exclusive: o.exclusive }, {
      adopt: (m) => this.tasks.run(m, () => this.takeOver(m)),
      drop: (m) => this.drop(m),
    }, log, this.now);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Connected to the router: rebuild presence and machines, claim the
   * machines nobody holds, and for each one taken tell everyone where they
   * stand ("updateClients").
   */
  async attach(wire: Wire, snapshot: RouterSnapshot): Promise<void> {
    this.wire = wire;
    this.selfSession = snapshot.self;
    this.attachedAt = this.now();
    this.presence.clear();
    this.backendSessions.clear();
    for (const s of snapshot.sessions) {
      if (holdsPlaces(s.authrole)) this.presence.join(s.session, s.authid);
      if (s.authrole === BACKEND_ROLE && s.session !== snapshot.self) this.backendSessions.add(s.session);
    }
    for (const r of snapshot.registrations) {
      const id = this.registry.registered(r.uri, r.id);
      if (id !== undefined) await this.repo.ensureMachine(id, this.now());
    }
    this.awaited.clear();
    for (const e of await this.repo.allEntries()) if (!this.presence.present(e.authid)) this.awaited.add(e.authid);
    if (this.wire !== wire) return;
    await this.leases.attach(snapshot.self ?? 0);
    this.log.info({ sessions: snapshot.sessions.length, machines: this.registry.ids().filter((id) => this.registry.online(id)), owns: this.leases.machines() }, 'reconciled with the router');
  }

  /** The router session is gone: timers stop, leases are given up; attach() rebuilds everything from the store and the meta API. */
  detach(): void {
    this.wire = undefined;
    this.registry.clear();
    this.presence.clear();
    this.awaited.clear();
    this.backendSessions.clear();
    void this.leases.detach();
    this.clearTimers();
  }

  /** Stops: leases given up (another instance takes the machines over at once), tasks finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wire = undefined;
    this.clearTimers();
    await this.leases.stop();
    await this.tasks.idle();
  }

  /** Connected to the router and reconciled: presence is known. */
  get attached(): boolean { return this.wire !== undefined && !this.stopped; }

  /** A session with this authid is on the router (as far as the meta events told us). */
  isPresent(authid: string): boolean { return this.presence.present(authid); }

  /** What /health says about this instance. */
  health(): { instance: string; attached: boolean; owns: string[] } {
    return { instance: this.leases.instance, attached: this.attached, owns: this.leases.machines() };
  }

  /** Waits until every task queued so far for the machines has run (tests, shutdown). */
  idle(): Promise<void> { return this.tasks.idle(); }

  private clearTimers(): void {
    for (const m of new Set([...this.readyTimers.keys(), ...this.overrunTimers.keys(), ...this.goneTimers.keys(), ...this.graceTimers.keys(), ...this.orphanStarts.keys()])) this.clearMachineTimers(m);
    this.endingByUs.clear();
    this.endingTurns.clear();
    this.endedWhileStarting.clear();
    this.unattributedEnd.clear();
    this.lastSent.clear();
    this.pendingRefresh.clear();
  }

  private clearMachineTimers(m: string): void {
    const r = this.readyTimers.get(m); if (r) clearTimeout(r.timer);
    const o = this.overrunTimers.get(m); if (o) clearTimeout(o.timer);
    const g = this.goneTimers.get(m); if (g) clearTimeout(g.timer);
    for (const t of this.graceTimers.get(m)?.values() ?? []) clearTimeout(t);
    clearTimeout(this.orphanStarts.get(m));
    this.orphanStarts.delete(m);
    this.readyTimers.delete(m);
    this.overrunTimers.delete(m);
    this.goneTimers.delete(m);
    this.graceTimers.delete(m);
  }

  /** This instance no longer owns `m`: its timers and memory of it go. */
  private drop(m: string): void {
    this.clearMachineTimers(m);
    this.lastSent.delete(m);
    this.endedWhileStarting.delete(m);
    this.unattributedEnd.delete(m);
    this.pendingRefresh.delete(m);
  }

  private taskFailed(machine: string, err: unknown): void {
    if (err instanceof LeaseLost) { this.leases.lost(machine); return; }
    if (this.stopped) return;
    this.log.error({ machine, err: (err as Error)?.message, stack: (err as Error)?.stack }, 'handling a change failed; refreshing from the store shortly');
    // The store is the truth: a later refresh brings everything in line with it.
    const t = setTimeout(() => { if (this.leases.owns(machine)) void this.ownerRefresh(machine); }, 1000);
    t.unref?.();
  }

  /** Another instance committed a change to a machine (PostgreSQL NOTIFY): its owner acts on it. */
  changeNotified(payload: string): void {
    const c = decodeChange(payload);
    if (c && this.leases.owns(c.machine)) void this.ownerRefresh(c.machine, c.change);
  }

  /** Notifications may have been missed (the LISTEN connection was re-established): refresh everything owned. */
  resync(): void {
    for (const m of this.leases.machines()) void this.ownerRefresh(m);
  }

  // ---------------------------------------------------------------- transactions

  /**
   * A state change by any instance: one transaction that locks the machine's
   * row first (unknown machine: no_such_machine). The owner is told after the
   * commit: directly when that is this instance, else by NOTIFY inside the
   * transaction. Resolves after this instance's refresh when it is the owner.
   * The change's notes (a `removed`, a turn's result) go out from here, right
   * after the commit and before the call's answer, whoever owns the machine:
   * relayed through the owner, a `removed` for a leave could reach the player
   * after their next join's answer, and say they are out when they are in.
   */
  private async mutate<T>(machine: string, fn: (r: Repository, row: MachineRow) => Promise<{ result: T; change?: Change; log?: () => void }>): Promise<T> {
    let local = false;
    const out = await this.inTurn(machine, () => this.repo.tx(async (r) => {
      const row = await r.lockMachine(machine);
      if (!row) throw new ClawFault(ClawErrors.noSuchMachine, `no machine ${machine}`);
      const o = await fn(r, row);
      local = this.leases.owns(machine);
      if (o.change && !local) await r.notify(CHANGES_CHANNEL, encodeChange(machine, { ...o.change, notes: [] }));
      return o;
    }));
    out.log?.();
    if (out.change && !local) for (const n of out.change.notes ?? []) this.send(n.to, n.message);
    if (out.change && local) await this.ownerRefresh(machine, out.change);
    return out.result;
  }

  /** An owner's state change: one transaction fenced by this instance's lease (LeaseLost otherwise). */
  private async own<T>(machine: string, fn: (r: Repository, row: MachineRow) => Promise<T>): Promise<T> {
    const fence = this.leases.fence(machine);
    if (!fence) throw new LeaseLost(machine);
    return this.inTurn(machine, () => this.repo.tx(async (r) => fn(r, (await r.lockMachine(machine, fence))!)));
  }

  /** Runs `tx` when this instance's earlier transactions on `machine` are done (txTurns). */
  private inTurn<T>(machine: string, tx: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      void this.txTurns.run(machine, () => tx().then(resolve, reject));
    });
  }

  /** Queues one refresh of an owned machine (merged with any not started yet); resolves when it ran. */
  private ownerRefresh(machine: string, c: Change & { resendAll?: boolean } = {}): Promise<void> {
    let p = this.pendingRefresh.get(machine);
    if (!p) {
      const entry: { req: RefreshRequest; done: Promise<void> } = { req: emptyRequest(), done: Promise.resolve() };
      entry.done = this.tasks.run(machine, async () => {
        if (this.pendingRefresh.get(machine) === entry) this.pendingRefresh.delete(machine);
        await this.refreshNow(machine, entry.req);
      });
      this.pendingRefresh.set(machine, entry);
      p = entry;
    }
    mergeChange(p.req, c);
    return p.done;
  }

  // ---------------------------------------------------------------- player procedures

  /**
   * Joins the queue, or answers the caller's place (idempotent). With
   * `resume` (a page reclaiming the place it held before a reload) it never
   * joins: a caller with no place gets not_in_queue, so a place that ended
   * while the page was away is not silently replaced by one at the back.
   */
  async requestSlot(authid: string | undefined, machine: unknown, o: { resume?: boolean } = {}): Promise<SlotResult> {
    const who = this.identify(authid);
    const id = this.machineId(machine);
    this.limit(who);
    const quota = this.config.guests.queuePlacesPerAddress;
    const now = this.now();
    const online = this.registry.online(id);
    const { decision, blockedUntil, maxQueue } = await this.mutate(id, async (r, row) => {
      const settings = this.effective(row);
      const v = await r.joinView(id, who, now);
      // Guests minted from one client address share a quota of places per queue (rows with no address: none).
      const counted = quota > 0 && v.address !== null;
      const blockedUntil = v.blockedUntil;
      const d = joinDecision({
        alreadyQueued: v.queued,
        resumeOnly: o.resume === true,
        blocked: blockedUntil !== undefined,
        online,
        queueLength: v.queueLength,
        maxQueue: settings.maxQueue,
        addressPlaces: counted ? v.addressPlaces : 0,
        placesPerAddress: counted ? quota : 0,
      });
      if (d === 'join') await r.insertEntry(id, who, now);
      // A page reclaiming its place after a reload subscribed its topic before calling: the prompt
      // or the control it may have missed (sent at its session's on_join) reaches it now.
      const change: Change | undefined = d === 'join' ? {} : d === 'existing' ? { resendState: [who] } : undefined;
      return { result: { decision: d, blockedUntil, maxQueue: settings.maxQueue }, change };
    });
    if (decision === ClawErrors.notInQueue) throw new ClawFault(decision, `you hold no place in the queue of ${id} (any more)`);
    if (decision === ClawErrors.blocked) {
      throw new ClawFault(decision, `an operator removed you from the queue of ${id}; you can join it again at ${new Date(blockedUntil!).toISOString()}`, { until: blockedUntil });
    }
    if (decision === ClawErrors.machineOffline) throw new ClawFault(decision, `machine ${id} is offline`);
    if (decision === ClawErrors.queueFull) throw new ClawFault(decision, `the queue of ${id} is full (${maxQueue})`);
    if (decision === ClawErrors.quotaExceeded) throw new ClawFault(decision, `players from your network already hold ${quota} places in the queue of ${id}; try again when one of them has played`);
    if (decision === 'join') this.log.info({ machine: id, authid: who }, 'joined the queue');
    const slot = this.slotOf(id, who, await this.readView(id));
    if (!slot) throw new ClawFault(ClawErrors.notInQueue, `you hold no place in the queue of ${id} (any more)`);
    return slot;
  }

  async leave(authid: string | undefined, machine: unknown): Promise<{ machine: string; left: true }> {
    const who = this.identify(authid);
    const id = this.machineId(machine);
    this.limit(who);
    await this.mutate(id, async (r, row) => {
      const e = await r.entry(id, who);
      if (!e) throw new ClawFault(ClawErrors.notInQueue, `you are not in the queue of ${id}`);
      const out = isCurrent(e)
        ? await this.endTurnTx(r, row, e, 'skipped', who, { callNode: true, reason: 'left' })
        : await this.removeTx(r, row, e, 'left');
      return { result: undefined, change: { notes: out.notes, forget: out.forget }, log: out.log };
    });
    return { machine: id, left: true };
  }

  async ready(authid: string | undefined, machine: unknown): Promise<{ machine: string; confirmed: true }> {
    const who = this.identify(authid);
    const id = this.machineId(machine);
    this.limit(who);
    const now = this.now();
    await this.mutate(id, async (r, row) => {
      const e = await r.entry(id, who);
      if (!e) throw new ClawFault(ClawErrors.notInQueue, `you are not in the queue of ${id}`);
      if (isCurrent(e)) return { result: undefined };
      if (e.state !== 'ready_check') throw new ClawFault(ClawErrors.notYourTurn, `it is not your turn on ${id} yet`);
      // How long players take to confirm feeds the wait estimate (a deadline pushed after a restart is no sample).
      if (e.askedAt !== null && e.readyExtended === 0) {
        await r.recordReadyDelay(id, nextAverage(row.avgReadyMs, row.avgReadyMs == null ? 0 : 1, now - e.askedAt));
      }
      // The turn exists from here; the owner calls start_turn (refreshNow → sendStartTurn).
      const turnId = await r.insertTurn(id, who, e.name, now);
      await r.setEntryState(e.id, 'starting', null, turnId);
      return { result: undefined, change: {} };
    });
    return { machine: id, confirmed: true };
  }

  async queueGet(machine: unknown, withAuthids = false): Promise<QueueSnapshot> {
    const id = this.machineId(machine);
    return this.snapshot(id, await this.readView(id), withAuthids);
  }

  /** Machines with state and queue length; the WAMP layer adds spectators. */
  async machines(): Promise<{ machine: string; state: MachineState; queueLength: number; paused: boolean }[]> {
    return (await this.repo.machinesWithQueues()).map((m) => ({ machine: m.id, state: this.stateOf(m.id, m.paused), queueLength: m.queueLength, paused: m.paused }));
  }

  // ---------------------------------------------------------------- operator procedures

  async pause(machine: unknown, actor: string | null): Promise<{ machine: string; paused: true }> {
    const id = this.machineId(machine);
    await this.mutate(id, async (r) => {
      await r.setPaused(id, true);
      await r.audit(this.now(), id, 'pause', actor, null, null, undefined);
      return { result: undefined, change: {}, log: () => this.log.info({ machine: id, actor }, 'paused') };
    });
    return { machine: id, paused: true };
  }

  async resume(machine: unknown, actor: string | null): Promise<{ machine: string; paused: false }> {
    const id = this.machineId(machine);
    await this.mutate(id, async (r) => {
      await r.setPaused(id, false);
      await r.audit(this.now(), id, 'resume', actor, null, null, undefined);
      return { result: undefined, change: {}, log: () => this.log.info({ machine: id, actor }, 'resumed') };
    });
    return { machine: id, paused: false };
  }

  /** Ends the current turn (`skipped`), or skips the player being asked to get ready. */
  async skip(machine: unknown, actor: string | null): Promise<{ machine: string; skipped: string }> {
    const id = this.machineId(machine);
    return this.mutate(id, async (r, row) => {
      const entries = await r.entries(id);
      const current = currentOf(entries);
      const asked = entries.find((e) => e.state === 'ready_check');
      const target = current ?? asked;
      if (!target) throw new ClawFault(ClawErrors.noTurn, `no turn to skip on ${id}`);
      const out = current
        ? await this.endTurnTx(r, row, current, 'skipped', actor, { callNode: true, audit: 'skip', reason: 'skip' })
        : await this.removeTx(r, row, asked!, 'kicked', { action: 'skip', actor });
      return { result: { machine: id, skipped: target.name }, change: { notes: out.notes, forget: out.forget }, log: out.log };
    });
  }

  /**
   * Removes a player from a queue (their turn, if any, ends `skipped`).
   * `blockMinutes`: they may not join this machine's queue again for that
   * long (at most kicks.maxBlockMinutes); request_slot says claw.error.blocked.
   */
  async kick(machine: unknown, authid: unknown, actor: string | null, o: { blockMinutes?: unknown } = {}): Promise<{ machine: string; kicked: string; blockedUntil?: number }> {
    const id = this.machineId(machine);
    if (typeof authid !== 'string' || !isUriComponent(authid)) throw new ClawFault(ClawErrors.invalidArgument, 'kick needs the player\'s authid as the second argument');
    const max = this.config.kicks.maxBlockMinutes;
    const minutes = o.blockMinutes ?? 0;
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0 || minutes > max) {
      throw new ClawFault(ClawErrors.invalidArgument, `blockMinutes must be a number from 0 to ${max}`);
    }
    const now = this.now();
    const blockedUntil = minutes > 0 ? Math.round(now + minutes * 60_000) : undefined;
    const name = await this.mutate(id, async (r, row) => {
      const e = await r.entry(id, authid);
      if (!e) throw new ClawFault(ClawErrors.notInQueue, `${authid} is not in the queue of ${id}`);
      if (blockedUntil !== undefined) await r.block(id, authid, blockedUntil, actor, now, this.config.kicks.maxBlocks);
      let out: Outcome;
      if (isCurrent(e)) {
        out = await this.endTurnTx(r, row, e, 'skipped', actor, { callNode: true, audit: 'kick', removed: 'kicked', reason: 'kick', blockedUntil });
        await this.recordRemoval(r, id, e, 'kicked', actor, blockedUntil);
      } else {
        out = await this.removeTx(r, row, e, 'kicked', { action: 'kick', actor }, blockedUntil);
      }
      const log = () => {
        out.log();
        if (blockedUntil !== undefined) this.log.info({ machine: id, authid, actor, blockedUntil }, 'blocked from rejoining');
      };
      return { result: e.name, change: { notes: out.notes, forget: out.forget }, log };
    });
    return { machine: id, kicked: name, ...(blockedUntil !== undefined ? { blockedUntil } : {}) };
  }

  async settingsOf(machine: unknown, patch: MachineSettingsPatch, actor: string | null): Promise<{ machine: string } & Settings> {
    const id = this.machineId(machine);
    if (Object.keys(patch).length > 0) {
      await this.mutate(id, async (r) => {
        await r.setSettings(id, patch);
        await r.audit(this.now(), id, 'settings', actor, null, null, patch);
        return { result: undefined, change: {}, log: () => this.log.info({ machine: id, actor, patch }, 'settings changed') };
      });
    }
    const row = await this.repo.machine(id);
    if (!row) throw new ClawFault(ClawErrors.noSuchMachine, `no machine ${id}`);
    return { machine: id, ...this.effective(row) };
  }

  /**
   * Recent turns and removals without a turn (no-shows, kicks, grace
   * expiries), newest first (by when they ended, or started for a turn in
   * progress), at most `limit` (1–500) rows.
   */
  async turns(machine: unknown, limit: number): Promise<AdminTurnRow[]> {
    const id = machine === undefined || machine === null ? null : await this.knownMachine(machine);
    const n = Math.min(Math.max(1, Math.floor(limit)), 500);
    const [turns, removals] = await Promise.all([this.repo.recentTurns(id, n), this.repo.recentRemovals(id, n)]);
    const rows: AdminTurnRow[] = [
      ...turns.map((r) => ({
        id: r.id, kind: 'turn' as const, machine: r.machine, authid: r.authid, name: r.name, startedAt: r.startedAt, endsAt: r.endsAt,
        endedAt: r.endedAt, result: r.result, endedBy: r.endedBy, endReason: r.endReason as TurnEndReason | null,
      })),
      ...removals.map((r) => ({
        id: r.id, kind: 'removed' as const, machine: r.machine, authid: r.authid, name: r.name, startedAt: null, endsAt: null, endedAt: r.at,
        result: null, endedBy: r.actor, reason: r.reason, blockedUntil: r.blockedUntil,
      })),
    ];
    const when = (r: AdminTurnRow) => r.endedAt ?? r.startedAt ?? 0;
    return rows.sort((a, b) => when(b) - when(a)).slice(0, n);
  }

  // ---------------------------------------------------------------- node events (every instance hears them; the owner acts)

  registrationCreated(uri: string, registration: number): void {
    if (!this.wire) return;
    const id = this.registry.registered(uri, registration);
    if (id === undefined) return;
    this.log.info({ machine: id }, 'claw node registered');
    void this.repo.ensureMachine(id, this.now()).then(() => {
      if (this.leases.owns(id)) void this.ownerRefresh(id);
      else this.leases.claimSoon();
    }, (e: unknown) => this.log.error({ machine: id, err: (e as Error).message }, 'recording a new machine failed'));
  }

  registrationGone(registration: number): void {
    if (!this.wire) return;
    const id = this.registry.unregistered(registration);
    if (id === undefined) return;
    // A node stopped cleanly says so first (status offline, reason `stopped`): that is no incident.
    const rt = this.registry.get(id);
    const status = rt.status;
    const clean = status?.state === 'offline' && status.reason === 'stopped';
    // No session speaks for the machine any more: its last word (a `ready` whose testament may have been dropped as
    // stale, machines/stale-status.ts) must not make it look ready when start_turn is registered again before it speaks.
    if (rt.registrations.size === 0 && status !== undefined && status.state !== 'offline') rt.status = undefined;
    if (clean) this.log.info({ machine: id }, 'claw node unregistered (stopped)');
    else this.log.warn({ machine: id }, 'claw node unregistered');
    if (this.leases.owns(id)) void this.tasks.run(id, () => this.clawLost(id));
  }

  status(machine: string, raw: unknown): void {
    const p = StatusPayload.safeParse(raw);
    if (!p.success) {
      this.ignoredLog.malformed.maybe(this.now(), (suppressed) => this.log.warn({ machine, payload: preview(raw), suppressed }, 'malformed status ignored'));
      return;
    }
    const rt = this.registry.get(machine);
    if (isStaleTestament(rt.status, p.data, rt.registrations.size > 0)) {
      const held = rt.status!;
      this.ignoredLog.staleTestament.maybe(this.now(), (suppressed) => this.log.info({ machine, since: p.data.since, held: held.state, heldSince: held.since, suppressed }, 'a lost session\'s offline testament older than the status held ignored'));
      return;
    }
    rt.status = p.data;
    if (p.data.state === 'ready') rt.holdUntilReady = false;
    if (!this.wire || !this.leases.owns(machine)) return; // (re)connecting: attach() decides with the full picture
    const s = p.data;
    void this.tasks.run(machine, () => this.onStatus(machine, s));
  }

  private async onStatus(machine: string, s: StatusPayload): Promise<void> {
    if (!this.leases.owns(machine)) return;
    if (s.state === 'offline' || s.state === 'maintenance' || !this.registry.online(machine)) { await this.clawLost(machine); return; }
    const current = currentOf(await this.repo.entries(machine));
    if (this.isOrphanStart(current)) { await this.reconcileTurn(machine); await this.refreshNow(machine, mergeChange(emptyRequest(), { resendTo: [current.authid] })); return; }
    // `ready` during a turn we think runs, with no turn_ended matched to it (queue/rules.ts readyDuringTurn).
    if (current?.state === 'playing' && s.state === 'ready') { await this.nodeReadyDuringTurn(machine, current); return; }
    if (current && s.state === 'controlled' && s.turn !== undefined && s.turn !== current.turnId && !this.endingTurns.has(s.turn)) {
      this.ignoredLog.foreignStatus.maybe(this.now(), (suppressed) => this.log.warn({ machine, turn: current.turnId, nodeTurn: s.turn, suppressed }, 'node says it runs another turn'));
    }
    await this.refreshNow(machine, emptyRequest());
  }

  nodeEvent(machine: string, raw: unknown): void {
    const p = EventPayload.safeParse(raw);
    if (!p.success || p.data.type !== 'turn_ended' || p.data.result === undefined) return;
    this.registry.get(machine).lastEnded = p.data;
    const ev = p.data;
    if (this.wire && !this.leases.owns(machine) && ev.turn !== undefined && ev.authid !== undefined) {
      // Kept in the store by every instance that hears it: the owner may die before it records the end.
      this.repo.recordNodeResult(ev.turn, ev.authid, ev.result!).catch((e: unknown) => this.log.warn({ machine, err: (e as Error).message }, 'keeping a node\'s turn result failed'));
    }
    if (!this.wire || !this.leases.owns(machine)) return;
    void this.tasks.run(machine, () => this.onTurnEnded(machine, ev, ev.result!));
  }

  private async onTurnEnded(machine: string, ev: EventPayload, result: TurnResult): Promise<void> {
    if (!this.leases.owns(machine)) return;
    // A turn the backend ended itself (end_turn in flight): the node's turn_ended for it comes
    // before end_turn's answer, and is not news.
    if (ev.turn !== undefined ? this.endingTurns.has(ev.turn) : (this.endingByUs.get(machine) ?? 0) > 0) return;
    const current = currentOf(await this.repo.entries(machine));
    if (!current) return;
    const match = matchTurnEnd(ev, current);
    if (match === 'other_turn') {
      this.ignoredLog.stale.maybe(this.now(), (suppressed) => this.log.info({ machine, turn: current.turnId, eventTurn: ev.turn, suppressed }, 'turn_ended for another turn ignored'));
      return;
    }
    if (match === 'unattributed') {
      // An old node's event: applied if the node says `ready` next (nodeReadyDuringTurn) or start_turn's answer follows.
      if (current.turnId !== null) this.unattributedEnd.set(machine, { turnId: current.turnId, result });
      return;
    }
    // A start another instance sent (it died before the answer): the node's word decides.
    if (this.isOrphanStart(current)) { await this.reconcileTurn(machine); return; }
    // Before start_turn's answer is handled (both can arrive in one read): end it right after, so the
    // player still sees control true, then the result.
    if (current.state === 'starting') { this.endedWhileStarting.set(machine, { turnId: current.turnId!, result }); return; }
    await this.ownerEnd(machine, current.turnId!, result, null, { callNode: false, reason: 'node' });
  }

  // ---------------------------------------------------------------- presence (every instance keeps it; the owner writes it)

  /**
   * A session of `authid` is on the router. Every new session (the player's
   * first, a second tab, a reload) is told where the player stands: position,
   * the ready prompt with its deadline, control with the turn's topic and end.
   * A player back after being away is connected again, and a ready check
   * running out while they were reconnecting after a restart gets a fresh
   * ready window (once; rules.ts extendedDeadline).
   */
  sessionJoined(session: number, authid: string, authrole?: string): void {
    if (authrole === BACKEND_ROLE && session !== this.selfSession) this.backendSessions.add(session);
    if (!this.wire || !holdsPlaces(authrole)) return;
    const kind = this.presence.join(session, authid);
    if (kind === 'known') return;
    // Back for the first time since the attach: a ready check that ran down meanwhile gets a fresh window (once).
    const wasAwaited = kind === 'first' && this.awaited.delete(authid);
    this.forOwnedEntries(authid, (m) => this.playerBack(m, authid, kind === 'first', wasAwaited));
  }

  sessionLeft(session: number): void {
    if (this.backendSessions.delete(session)) {
      void this.leases.instanceLeft(session).catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'taking over a departed instance\'s machines failed'));
    }
    if (!this.wire) return;
    const authid = this.presence.leave(session);
    if (authid === undefined) return;
    this.forOwnedEntries(authid, (m) => this.playerAway(m, authid));
  }

  /** Runs `task` (as the machine's task) for each machine this instance owns where `authid` is queued. */
  private forOwnedEntries(authid: string, task: (machine: string) => Promise<void>): void {
    if (this.leases.machines().length === 0) return;
    this.repo.entriesOf(authid).then((entries) => {
      for (const e of entries) if (this.leases.owns(e.machine)) void this.tasks.run(e.machine, () => task(e.machine));
    }, (e: unknown) => this.log.error({ err: (e as Error).message }, 'reading a player\'s places failed'));
  }

  private async playerBack(machine: string, authid: string, first: boolean, wasAwaited: boolean): Promise<void> {
    if (!this.leases.owns(machine)) return;
    if (first) {
      const now = this.now();
      const extended = await this.own(machine, async (r, row) => {
        const e = await r.entry(machine, authid);
        if (!e || !this.presence.present(authid)) return undefined;
        await r.markConnected(machine, authid);
        if (!wasAwaited || e.state !== 'ready_check' || e.readyDeadline === null) return undefined;
        const deadline = extendedDeadline({
          deadline: e.readyDeadline, extended: e.readyExtended === 1, now, attachedAt: this.attachedAt,
          recoveryWindowMs: this.config.presence.recoveryWindowSeconds * 1000, readyWindowMs: this.effective(row).readyWindowSeconds * 1000,
        });
        return deadline !== undefined && await r.extendReady(e.id, deadline) ? deadline : undefined;
      });
      if (extended !== undefined) this.log.info({ machine, authid, deadline: extended }, 'ready check extended: the player is back after a restart');
    }
    await this.refreshNow(machine, mergeChange(emptyRequest(), { resendTo: [authid], forget: [authid] }));
  }

  private async playerAway(machine: string, authid: string): Promise<void> {
    if (!this.leases.owns(machine) || this.presence.present(authid)) return;
    const e = await this.own(machine, async (r) => {
      const e = await r.entry(machine, authid);
      if (e) await r.markDisconnected(machine, authid, this.now());
      return e;
    });
    if (!e) return;
    this.log.info({ authid, machine }, 'player disconnected');
    // In control: the node releases every line now; the turn and its timers go on.
    if (e.state === 'playing') this.callNode(machineReleaseUri(machine), { player: authid, ...(e.turnId !== null ? { turn: e.turnId } : {}) }, 'release');
    await this.refreshNow(machine, emptyRequest());
  }

  // ---------------------------------------------------------------- owner: taking a machine over

  /** This instance now owns `machine`: presence into the store, the turn checked against the node, everyone told where they stand. */
  private async takeOver(machine: string): Promise<void> {
    if (!this.leases.owns(machine)) return;
    const now = this.now();
    // An earlier disconnect time is kept, so a grace period that began before a crash is not extended.
    await this.own(machine, (r) => r.syncPresence(machine, (a) => this.presence.present(a), now));
    this.lastSent.delete(machine);
    await this.reconcileTurn(machine);
    await this.refreshNow(machine, mergeChange(emptyRequest(), { resendAll: true }));
  }

  /**
   * A turn recorded as starting or playing, checked against what the node
   * says: a turn_ended this instance heard (the old owner died before
   * recording it) ends it with that result; a node still `controlled` with
   * it runs it (a `starting` one becomes `playing`); a turn whose start_turn
   * was not sent yet is started by the refresh; otherwise the node ended or
   * lost it while nobody listened: abandoned, the player back at the front.
   */
  private async reconcileTurn(machine: string): Promise<void> {
    const current = currentOf(await this.repo.entries(machine));
    if (!current || current.turnId === null) return;
    const turnId = current.turnId;
    const turn = await this.repo.turn(turnId);
    const rt = this.registry.get(machine);
    const ended = rt.lastEnded;
    if (ended?.result !== undefined && ended.turn === turnId && matchTurnEnd(ended, current) === 'this_turn') {
      await this.ownerEnd(machine, turnId, ended.result, null, { callNode: false, reason: 'node' });
      return;
    }
    // Heard by another instance (stored with the turn's id and player), not by us.
    if (turn?.nodeResult != null && turn.result === null) {
      await this.ownerEnd(machine, turnId, turn.nodeResult, null, { callNode: false, reason: 'node' });
      return;
    }
    const status = rt.status;
    // A node that names its turn must name this one; an old node's `controlled` is taken as this turn.
    const stillRunning = this.registry.online(machine) && status?.state === 'controlled' && (status.turn === undefined || status.turn === turnId);
    if (stillRunning) {
      if (current.state === 'starting') {
        // start_turn went through but its answer was never recorded: its endsAt is estimated from when it was sent.
        const settings = this.effective((await this.repo.machine(machine))!);
        await this.own(machine, async (r) => {
          const e = await r.entry(machine, current.authid);
          if (e?.state !== 'starting' || e.turnId !== turnId) return;
          await r.setEntryState(e.id, 'playing', null, turnId);
          if (turn?.endsAt == null) await r.turnStarted(turnId, (turn?.startSentAt ?? turn?.startedAt ?? this.now()) + settings.moveSeconds * 1000);
          if (turn?.startSentAt == null) await r.markStartSent(turnId, this.now(), [...rt.registrations][0] ?? null);
        });
      }
      return;
    }
    if (current.state === 'starting' && turn?.startSentAt == null) return;
    if (current.state === 'starting' && turn?.startSentAt != null) {
      if (this.startsInFlight.has(turnId)) return; // our own call: its answer decides
      // Sent by an instance that died before the answer: the call may still reach the node until it
      // would have timed out, and the node's status or turn_ended decides (isOrphanStart) before that.
      const decideAt = turn.startSentAt + this.config.router.callTimeoutMs;
      if (this.now() < decideAt && this.registry.online(machine)) { this.armOrphanStart(machine, decideAt - this.now()); return; }
      // end_turn too (it names the turn, so no other is touched), in case the node starts it late.
      await this.ownerEnd(machine, turnId, 'abandoned', null, { callNode: true, reason: 'node_lost' });
      return;
    }
    await this.ownerEnd(machine, turnId, 'abandoned', null, { callNode: false, reason: 'node_lost' });
  }

  /** A turn in `starting` whose start_turn answer nobody here awaits (another instance sent it and died). */
  private isOrphanStart(current: Entry | undefined): current is Entry & { turnId: number } {
    return current?.state === 'starting' && current.turnId !== null && !this.startsInFlight.has(current.turnId);
  }

  private armOrphanStart(machine: string, ms: number): void {
    if (this.orphanStarts.has(machine)) return;
    this.orphanStarts.set(machine, setTimeout(() => {
      this.orphanStarts.delete(machine);
      void this.tasks.run(machine, async () => { await this.reconcileTurn(machine); await this.refreshNow(machine, emptyRequest()); });
    }, ms + 50));
  }

  // ---------------------------------------------------------------- owner: refresh

  /**
   * After any change on a machine (owner only): send what the change asked
   * for, read the machine under its lock, start the next ready check if due,
   * tell the node what it must know (a turn ended, a turn to start), keep the
   * timers in step with the store, tell each waiting player whose position
   * changed, and publish the retained queue snapshot.
   */
  private async refreshNow(machine: string, req: RefreshRequest): Promise<void> {
    if (this.stopped || !this.leases.owns(machine)) return;
    const sent = this.sentOf(machine);
    for (const a of req.forget) sent.delete(a);
    for (const n of req.notes) this.send(n.to, n.message);
    const rt = this.registry.get(machine);
    const now = this.now();
    const v = await this.own(machine, async (r, row) => {
      let entries = await r.entries(machine);
      const settings = this.effective(row);
      const step = nextStep({ online: this.registry.online(machine), nodeReady: rt.status?.state === 'ready', paused: row.paused, entries, holdUntilReady: rt.holdUntilReady });
      let asked: Entry | undefined;
      if (step.kind === 'ready_check') {
        await r.askReady(step.entryId, now + settings.readyWindowSeconds * 1000, now);
        entries = await r.entries(machine);
        asked = entries.find((x) => x.id === step.entryId);
      }
      const current = currentOf(entries);
      const turn = current?.turnId != null ? await r.turn(current.turnId) : undefined;
      const ends = await r.pendingNodeEnds(machine);
      return { view: { row, entries, turn, settings } as View, asked, ends };
    });
    const { view, asked, ends } = v;
    for (const t of ends) this.sendEndTurn(machine, t);
    const current = currentOf(view.entries);
    if (current?.state === 'starting' && view.turn && view.turn.startSentAt === null && view.turn.result === null && ends.length === 0) {
      await this.sendStartTurn(machine, current, view.turn, view.settings);
    }
    if (asked) this.log.info({ machine, authid: asked.authid, deadline: asked.readyDeadline }, 'ready check');
    this.sendPositions(machine, view, req);
    if (asked) this.send(asked.authid, { type: 'get_ready', machine, deadline: asked.readyDeadline! });
    for (const a of req.resendState) if (!req.resendTo.has(a) && !req.resendAll) this.resendState(machine, a, view);
    this.syncTimers(machine, view);
    this.wire?.publish(machineUris(machine).queue, this.snapshot(machine, view, false), true);
  }

  private sentOf(machine: string): Map<string, number> {
    let m = this.lastSent.get(machine);
    if (!m) { m = new Map(); this.lastSent.set(machine, m); }
    return m;
  }

  private sendPositions(machine: string, view: View, o: RefreshRequest): void {
    const waiting = waitingOf(view.entries);
    const current = currentOf(view.entries);
    const now = this.now();
    const waits = this.waits(machine, view, now);
    const sent = this.sentOf(machine);
    // Players no longer waiting are forgotten, so one who comes back is told their position.
    const still = new Set(waiting.map((e) => e.authid));
    for (const a of sent.keys()) if (!still.has(a)) sent.delete(a);
    waiting.forEach((e, position) => {
      const resend = o.resendAll || o.resendTo.has(e.authid);
      if (!resend && !positionDue(sent.get(e.authid), position)) return;
      sent.set(e.authid, position);
      const w = waits[position]!;
      this.send(e.authid, { type: 'position', machine, position, etaSeconds: Math.round(w.ms / 1000), ...(w.known ? { etaAt: Math.round(now + w.ms) } : {}) });
      if (resend && e.state === 'ready_check' && e.readyDeadline !== null) this.send(e.authid, { type: 'get_ready', machine, deadline: e.readyDeadline });
    });
    if (current && (o.resendAll || o.resendTo.has(current.authid))) this.resendControl(machine, current, view.turn);
  }

  /** Tells the player again what they may have missed: the ready prompt with its deadline, or control of the running turn. */
  private resendState(machine: string, authid: string, view: View): void {
    const e = view.entries.find((x) => x.authid === authid);
    if (!e) return;
    if (e.state === 'ready_check' && e.readyDeadline !== null) this.send(authid, { type: 'get_ready', machine, deadline: e.readyDeadline });
    if (e.state === 'playing') this.resendControl(machine, e, view.turn);
  }

  private resendControl(machine: string, current: Entry, turn: TurnRow | undefined): void {
    if (current.state !== 'playing' || turn?.id !== current.turnId) return;
    if (turn?.endsAt != null) this.send(current.authid, { type: 'control', control: true, machine, topic: machineUris(machine).control(current.authid), endsAt: turn.endsAt });
  }

  // ---------------------------------------------------------------- owner: the node

  /** Calls start_turn for a turn confirmed by its player, once (turns.start_sent_at, set first under the lock). */
  private async sendStartTurn(machine: string, e: Entry, turn: TurnRow, settings: Settings): Promise<void> {
    if (this.startsInFlight.has(turn.id)) return;
    const registrations = [...this.registry.get(machine).registrations];
    const now = this.now();
    const ok = await this.own(machine, async (r) => {
      const cur = await r.entry(machine, e.authid);
      const t = await r.turn(turn.id);
      if (cur?.state !== 'starting' || cur.turnId !== turn.id || !t || t.result !== null || t.startSentAt !== null) return false;
      await r.markStartSent(turn.id, now, registrations[0] ?? null);
      return true;
    });
    if (!ok) return;
    this.log.info({ machine, authid: e.authid, turn: turn.id }, 'starting turn');
    this.unattributedEnd.delete(machine);
    this.startsInFlight.add(turn.id);
    const call = this.wire
      ? this.wire.call(machineUris(machine).startTurn, { player: e.authid, moveSeconds: settings.moveSeconds, name: turn.name, turn: turn.id })
      : Promise.reject(new Error('not connected to the router'));
    void call.then(
      (raw) => this.tasks.run(machine, () => this.startAnswered(machine, e.authid, turn.id, raw)),
      (err: unknown) => this.tasks.run(machine, () => this.startFailed(machine, e.authid, turn.id, err)),
    ).finally(() => this.startsInFlight.delete(turn.id));
  }

  private async startAnswered(machine: string, authid: string, turnId: number, raw: unknown): Promise<void> {
    const r = StartTurnResult.safeParse(raw);
    if (!r.success) { await this.startFailed(machine, authid, turnId, new Error(`start_turn answered ${preview(raw)}`)); return; }
    if (this.stopped || !this.leases.owns(machine)) return; // the next owner reads the node's status
    const started = await this.own(machine, async (q) => {
      const cur = await q.entry(machine, authid);
      if (cur?.state !== 'starting' || cur.turnId !== turnId) return false; // ended meanwhile
      await q.setEntryState(cur.id, 'playing', null, turnId);
      await q.turnStarted(turnId, r.data.endsAt);
      return true;
    });
    if (!started) return;
    this.send(authid, { type: 'control', control: true, machine, topic: r.data.topic, endsAt: r.data.endsAt });
    this.log.info({ machine, authid, turn: turnId, endsAt: r.data.endsAt }, 'turn started');
    const early = this.endedWhileStarting.get(machine);
    if (early?.turnId === turnId) {
      this.endedWhileStarting.delete(machine);
      await this.ownerEnd(machine, turnId, early.result, null, { callNode: false, reason: 'node' });
      return;
    }
    // An old node's unattributed turn_ended came before this answer: in the node's order it is this turn's end.
    const unattributed = this.unattributedEnd.get(machine);
    if (unattributed?.turnId === turnId && this.registry.get(machine).status?.state === 'ready') {
      this.unattributedEnd.delete(machine);
      await this.ownerEnd(machine, turnId, unattributed.result, null, { callNode: false, reason: 'node' });
      return;
    }
    if (!this.presence.present(authid)) this.callNode(machineReleaseUri(machine), { player: authid, turn: turnId }, 'release');
    await this.refreshNow(machine, emptyRequest());
  }

  private async startFailed(machine: string, authid: string, turnId: number, err: unknown): Promise<void> {
    if (this.endedWhileStarting.get(machine)?.turnId === turnId) this.endedWhileStarting.delete(machine);
    if (this.stopped || !this.leases.owns(machine)) return;
    this.log.warn({ machine, authid, err: errorText(err) }, 'start_turn failed');
    const cur = await this.repo.entry(machine, authid);
    if (cur?.state !== 'starting' || cur.turnId !== turnId) return;
    this.registry.get(machine).holdUntilReady = true;
    await this.ownerEnd(machine, turnId, 'abandoned', null, { callNode: false, backToFront: true, reason: 'start_failed' });
  }

  /** Tells the node that a turn ended (end_turn with its id, so it can't end the next one), then records that it was told. */
  private sendEndTurn(machine: string, t: TurnRow): void {
    if (this.endingTurns.has(t.id) || !this.wire) return;
    this.endingTurns.add(t.id);
    this.endingByUs.set(machine, (this.endingByUs.get(machine) ?? 0) + 1);
    const done = (told: boolean) => {
      const n = (this.endingByUs.get(machine) ?? 1) - 1;
      if (n > 0) this.endingByUs.set(machine, n); else this.endingByUs.delete(machine);
      if (!told) { this.endingTurns.delete(t.id); return; }
      // Still "ending" until the store says done: a refresh meanwhile must not call end_turn again.
      void this.tasks.run(machine, () => this.own(machine, (r) => r.nodeEndDone(t.id)).finally(() => this.endingTurns.delete(t.id)));
    };
    this.wire.call(machineUris(machine).endTurn, { reason: t.result, turn: t.id }).then(() => done(true), (err: unknown) => {
      this.log.warn({ machine, err: errorText(err) }, 'end_turn failed');
      // An answer (the node's error, or no node) settles it; a lost router link leaves it for the next owner or attach.
      done(typeof (err as { error?: unknown })?.error === 'string');
    });
  }

  /**
   * Ends the turn `turnId` if it is still the machine's current turn (owner,
   * fenced), then refreshes. An abandoned turn puts its player back at the
   * front; any other removes the entry.
   */
  private async ownerEnd(machine: string, turnId: number, result: TurnResult, actor: string | null,
    o: { callNode: boolean; reason: TurnEndReason; backToFront?: boolean; onlyIf?: (e: Entry) => boolean }): Promise<void> {
    const out = await this.own(machine, async (r, row) => {
      const e = currentOf(await r.entries(machine));
      if (!e || e.turnId !== turnId || (o.onlyIf && !o.onlyIf(e))) return undefined;
      return this.endTurnTx(r, row, e, result, actor, o);
    });
    if (!out) return;
    out.log();
    await this.refreshNow(machine, mergeChange(emptyRequest(), { notes: out.notes, forget: out.forget }));
  }

  /** Removes the entry `entryId` if `still` holds for it under the lock (owner, fenced), then refreshes. */
  private async ownerRemove(machine: string, entryId: number, reason: 'timeout' | 'grace_expired', still: (e: Entry, row: MachineRow) => boolean): Promise<void> {
    const out = await this.own(machine, async (r, row) => {
      const e = (await r.entries(machine)).find((x) => x.id === entryId);
      if (!e || !still(e, row)) return undefined;
      return this.removeTx(r, row, e, reason);
    });
    if (!out) { await this.refreshNow(machine, emptyRequest()); return; }
    out.log();
    await this.refreshNow(machine, mergeChange(emptyRequest(), { notes: out.notes, forget: out.forget }));
  }

  // ---------------------------------------------------------------- transitions (inside a transaction holding the machine's lock)

  /**
   * Ends the current turn `e` with `result`: the turn's result once, the
   * averages, the entry removed (or back at the front for an abandoned turn),
   * the audit; the node is to be told (node_end pending) when it got the
   * start and the caller asks for it.
   */
  private async endTurnTx(r: Repository, row: MachineRow, e: Entry, result: TurnResult, actor: string | null,
    o: { callNode: boolean; reason: TurnEndReason; backToFront?: boolean; audit?: string; removed?: 'kicked'; blockedUntil?: number | undefined }): Promise<Outcome> {
    const now = this.now();
    const machine = row.id;
    const backToFront = o.backToFront ?? result === 'abandoned';
    if (e.turnId !== null) {
      const turn = await r.turn(e.turnId);
      const tellNode = o.callNode && turn?.startSentAt != null;
      await r.finishTurn(e.turnId, now, result, actor, o.reason, tellNode ? 'pending' : null);
      if (turn && (result === 'win' || result === 'lose' || result === 'timeout')) {
        await r.recordTurnLength(machine, nextAverage(row.avgTurnMs, row.turnsCount, now - turn.startedAt));
      }
      // A turn the node ended after its timer ran out measures the drop cycle (an early drop says nothing about it).
      if (turn?.endsAt != null && o.reason === 'node' && (result === 'win' || result === 'lose') && now > turn.endsAt) {
        await r.recordDropCycle(machine, nextAverage(row.avgDropMs, row.avgDropMs === null ? 0 : 1, now - turn.endsAt));
      }
    }
    if (backToFront) { await r.setEntryState(e.id, 'waiting'); await r.moveToFront(machine, e.id); } else await r.deleteEntry(e.id);
    if (o.audit) await r.audit(now, machine, o.audit, actor, e.authid, e.turnId, { result });
    const notes: Note[] = [{ to: e.authid, message: { type: 'control', control: false, machine, result } }];
    if (o.removed) notes.push({ to: e.authid, message: { type: 'removed', machine, reason: o.removed, ...(o.blockedUntil !== undefined ? { blockedUntil: o.blockedUntil } : {}) } });
    return { notes, forget: [e.authid], log: () => this.log.info({ machine, authid: e.authid, turn: e.turnId, result, actor }, 'turn ended') };
  }

  private async removeTx(r: Repository, row: MachineRow, e: Entry, reason: 'left' | 'kicked' | 'timeout' | 'grace_expired', audit?: { action: string; actor: string | null }, blockedUntil?: number): Promise<Outcome> {
    const machine = row.id;
    await r.deleteEntry(e.id);
    if (audit) await r.audit(this.now(), machine, audit.action, audit.actor, e.authid, null, { reason, ...(blockedUntil !== undefined ? { blockedUntil } : {}) });
    if (reason !== 'left') await this.recordRemoval(r, machine, e, reason, audit?.actor ?? null, blockedUntil);
    return {
      notes: [{ to: e.authid, message: { type: 'removed', machine, reason, ...(blockedUntil !== undefined ? { blockedUntil } : {}) } }],
      forget: [e.authid],
      log: () => this.log.info({ machine, authid: e.authid, reason }, 'left the queue'),
    };
  }

  /** A no-show, kick or grace expiry, for the dashboard's table. */
  private async recordRemoval(r: Repository, machine: string, e: Entry, reason: RemovalReason, actor: string | null, blockedUntil: number | undefined): Promise<void> {
    await r.recordRemoval({ at: this.now(), machine, authid: e.authid, name: e.name, reason, actor, blockedUntil: blockedUntil ?? null }, this.config.history.maxRemovals);
  }

  /** The node is gone (or lost the turn): the turn in play is abandoned, its player back at the front; a ready check is called off. */
  private async clawLost(machine: string): Promise<void> {
    if (!this.leases.owns(machine)) return;
    const entries = await this.repo.entries(machine);
    const current = currentOf(entries);
    if (current?.state === 'playing' && current.turnId !== null) {
      await this.ownerEnd(machine, current.turnId, 'abandoned', null, { callNode: false, reason: 'node_lost', onlyIf: (e) => e.state === 'playing' });
      return;
    }
    const asked = entries.find((e) => e.state === 'ready_check');
    if (asked) {
      await this.own(machine, async (r) => {
        const e = await r.entry(machine, asked.authid);
        if (e?.id === asked.id && e.state === 'ready_check') await r.setEntryState(e.id, 'waiting');
      });
    }
    await this.refreshNow(machine, mergeChange(emptyRequest(), { forget: asked ? [asked.authid] : [] }));
  }

  /** The node said `ready` while `current` plays, with no turn_ended matched to it. */
  private async nodeReadyDuringTurn(machine: string, current: Entry): Promise<void> {
    const unattributed = this.unattributedEnd.get(machine);
    this.unattributedEnd.delete(machine);
    const turn = current.turnId !== null ? await this.repo.turn(current.turnId) : undefined;
    const registrations = this.registry.get(machine).registrations;
    const result = readyDuringTurn({
      unattributed: unattributed?.turnId === current.turnId ? unattributed.result : undefined,
      sameNodeSession: turn?.startRegistration != null && registrations.has(turn.startRegistration),
    });
    if (result === 'abandoned') { await this.clawLost(machine); return; }
    if (unattributed === undefined) this.log.warn({ machine, turn: current.turnId }, 'node ready without turn_ended: turn ended as timeout');
    await this.ownerEnd(machine, current.turnId!, result, null, { callNode: false, reason: unattributed === undefined ? 'silent' : 'node', onlyIf: (e) => e.state === 'playing' });
  }

  // ---------------------------------------------------------------- owner: timers

  /** Ready deadline, grace periods, the turn grace and the overrun watchdog, each derived from what the store holds. */
  private syncTimers(machine: string, view: View): void {
    if (!this.wire || !this.leases.owns(machine)) return; // while disconnected nothing expires; attach() re-derives every timer
    const { entries, turn, settings } = view;
    const asked = entries.find((e) => e.state === 'ready_check');
    const rt = this.readyTimers.get(machine);
    const readyAt = asked?.readyDeadline != null ? this.readyTimeout(asked) : undefined;
    if (rt && (rt.entryId !== asked?.id || rt.at !== readyAt)) { clearTimeout(rt.timer); this.readyTimers.delete(machine); }
    if (asked && readyAt !== undefined && !this.readyTimers.has(machine)) {
      const timer = setTimeout(() => { this.readyTimers.delete(machine); void this.tasks.run(machine, () => this.readyExpired(machine, asked.id)); }, Math.max(0, readyAt - this.now()));
      this.readyTimers.set(machine, { entryId: asked.id, at: readyAt, timer });
    }

    const current = currentOf(entries);
    const ot = this.overrunTimers.get(machine);
    const playing = current?.state === 'playing' ? current : undefined;
    if (ot && ot.turnId !== playing?.turnId) { clearTimeout(ot.timer); this.overrunTimers.delete(machine); }
    if (playing?.turnId != null && turn?.id === playing.turnId && !this.overrunTimers.has(machine)) {
      const endsAt = turn.endsAt ?? turn.startedAt + settings.moveSeconds * 1000;
      const turnId = playing.turnId;
      const timer = setTimeout(() => {
        this.overrunTimers.delete(machine);
        void this.tasks.run(machine, () => this.overrun(machine, turnId));
      }, Math.max(0, endsAt + TURN_OVERRUN_MS - this.now()));
      this.overrunTimers.set(machine, { turnId, timer });
    }

    // A player in control who is gone (every session) past the turn grace gives the machine back.
    const gt = this.goneTimers.get(machine);
    const goneAt = playing?.turnId != null && playing.disconnectedAt !== null
      ? turnGraceExpiry(playing.disconnectedAt, this.attachedAt, this.config.presence.turnGraceSeconds * 1000) : undefined;
    if (gt && (gt.turnId !== playing?.turnId || gt.at !== goneAt)) { clearTimeout(gt.timer); this.goneTimers.delete(machine); }
    if (playing?.turnId != null && goneAt !== undefined && !this.goneTimers.has(machine)) {
      const turnId = playing.turnId;
      const timer = setTimeout(() => { this.goneTimers.delete(machine); void this.tasks.run(machine, () => this.playerGone(machine, turnId)); }, Math.max(0, goneAt - this.now()));
      this.goneTimers.set(machine, { turnId, at: goneAt, timer });
    }

    let graces = this.graceTimers.get(machine);
    if (!graces) { graces = new Map(); this.graceTimers.set(machine, graces); }
    const due = new Set<number>();
    for (const e of entries) {
      if (e.disconnectedAt === null || (e.state !== 'waiting' && e.state !== 'ready_check')) continue;
      due.add(e.id);
      if (graces.has(e.id)) continue;
      const at = graceExpiry(e.disconnectedAt, settings.graceSeconds);
      const entryId = e.id;
      graces.set(e.id, setTimeout(() => { graces!.delete(entryId); void this.tasks.run(machine, () => this.graceExpired(machine, entryId)); }, Math.max(0, at - this.now())));
    }
    for (const [id, t] of graces) if (!due.has(id)) { clearTimeout(t); graces.delete(id); }
  }

  /** When the asked entry's ready check times out (rules.ts readyTimeoutAt: not while an absent player may be reconnecting after a restart). */
  private readyTimeout(e: Entry): number {
    return readyTimeoutAt({
      deadline: e.readyDeadline!, awaited: e.disconnectedAt !== null && this.awaited.has(e.authid), attachedAt: this.attachedAt,
      recoveryWindowMs: this.config.presence.recoveryWindowSeconds * 1000,
    });
  }

  private async readyExpired(machine: string, entryId: number): Promise<void> {
    if (!this.leases.owns(machine)) return;
    await this.ownerRemove(machine, entryId, 'timeout', (e) => e.state === 'ready_check' && e.readyDeadline !== null && this.readyTimeout(e) <= this.now());
  }

  /** The player in control has been gone past the turn grace: their turn ends now (`skipped`, reason `gone`). */
  private async playerGone(machine: string, turnId: number): Promise<void> {
    if (!this.leases.owns(machine)) return;
    const grace = this.config.presence.turnGraceSeconds * 1000;
    const gone = (e: Entry) => e.state === 'playing' && e.disconnectedAt !== null && !this.presence.present(e.authid)
      && turnGraceExpiry(e.disconnectedAt, this.attachedAt, grace) <= this.now();
    const current = currentOf(await this.repo.entries(machine));
    if (!current || current.turnId !== turnId || !gone(current)) { await this.refreshNow(machine, emptyRequest()); return; }
    this.log.info({ machine, authid: current.authid, turn: turnId }, 'player in control gone: ending the turn');
    await this.ownerEnd(machine, turnId, 'skipped', current.authid, { callNode: true, reason: 'gone', onlyIf: gone });
  }

  private async graceExpired(machine: string, entryId: number): Promise<void> {
    if (!this.leases.owns(machine)) return;
    await this.ownerRemove(machine, entryId, 'grace_expired', (e, row) => e.disconnectedAt !== null && (e.state === 'waiting' || e.state === 'ready_check')
      && graceExpiry(e.disconnectedAt, this.effective(row).graceSeconds) <= this.now());
  }

  private async overrun(machine: string, turnId: number): Promise<void> {
    if (!this.leases.owns(machine)) return;
    const current = currentOf(await this.repo.entries(machine));
    if (current?.state !== 'playing' || current.turnId !== turnId) return;
    this.log.warn({ machine, turn: turnId }, 'no turn_ended long after endsAt: ending the turn');
    await this.ownerEnd(machine, turnId, 'timeout', null, { callNode: true, reason: 'overrun', onlyIf: (e) => e.state === 'playing' });
  }

  // ---------------------------------------------------------------- views

  /** A machine's state for an answer (no lock: what was committed when each read ran). */
  private async readView(machine: string): Promise<View> {
    const [row, entries] = await Promise.all([this.repo.machine(machine), this.repo.entries(machine)]);
    if (!row) throw new ClawFault(ClawErrors.noSuchMachine, `no machine ${machine}`);
    const current = currentOf(entries);
    const turn = current?.turnId != null ? await this.repo.turn(current.turnId) : undefined;
    return { row, entries, turn, settings: this.effective(row) };
  }

  /**
   * How long until each waiting player (queue order) is asked, in ms, and
   * whether that is known (not while paused or the node is not there): the
   * estimate as if it went on now is still given as etaSeconds, which the
   * protocol requires; etaAt only when known. `now` is the caller's, so an
   * etaAt (now + ms) is the same on every read while nothing changes.
   */
  private waits(machine: string, view: View, now: number): { ms: number; known: boolean }[] {
    const { row, entries, turn, settings } = view;
    const current = currentOf(entries);
    const nodeState = this.registry.get(machine).status?.state;
    const halted = row.paused || !this.registry.online(machine) || (nodeState !== 'ready' && nodeState !== 'controlled');
    // Whole milliseconds: the estimate is then exact arithmetic, the same on every read while nothing changes.
    const v = {
      now, halted: false,
      turnMs: Math.round(plannedTurnMs(row.avgTurnMs, settings.moveSeconds)),
      readyMs: Math.round(row.avgReadyMs ?? READY_GUESS_SECONDS * 1000),
      dropMs: Math.round(row.avgDropMs ?? TURN_OVERHEAD_SECONDS * 1000),
      readyWindowMs: Math.round(settings.readyWindowSeconds * 1000),
      current: current ? { startedAt: turn?.startedAt ?? now, endsAt: turn?.endsAt ?? null } : undefined,
      waiting: waitingOf(entries).map((e) => ({ present: e.disconnectedAt === null, readyDeadline: e.state === 'ready_check' ? e.readyDeadline : null, askedAt: e.askedAt })),
    };
    return waitTimes(v).map((ms) => ({ ms: ms ?? 0, known: !halted }));
  }

  private snapshot(machine: string, view: View, withAuthids: boolean): QueueSnapshot {
    const { entries, turn, row } = view;
    const current = currentOf(entries);
    const now = this.now();
    const waits = this.waits(machine, view, now);
    return {
      machine,
      state: this.stateOf(machine, row.paused),
      // The running turn shows the name it started with (what the node shows); a rename shows from the next turn.
      current: current ? { name: turn?.name ?? current.name, endsAt: turn?.endsAt ?? null, ...(withAuthids ? { authid: current.authid } : {}) } : null,
      waiting: waitingOf(entries).map((e, position) => ({
        name: e.name, position,
        ...(withAuthids ? { authid: e.authid } : {}),
        ...(e.state === 'ready_check' && e.readyDeadline !== null ? { readyDeadline: e.readyDeadline } : {}),
        ...(waits[position]!.known ? { etaAt: Math.round(now + waits[position]!.ms) } : {}),
      })),
      paused: row.paused,
    };
  }

  private slotOf(machine: string, authid: string, view: View): SlotResult | undefined {
    const { entries, turn } = view;
    const current = currentOf(entries);
    if (current?.authid === authid) {
      const t = current.state === 'playing' && turn?.id === current.turnId ? turn : undefined;
      return {
        machine, position: 0, queueLength: entries.length, etaSeconds: 0, playing: true,
        ...(t?.endsAt != null ? { endsAt: t.endsAt, topic: machineUris(machine).control(authid) } : {}),
      };
    }
    const waiting = waitingOf(entries);
    const position = waiting.findIndex((e) => e.authid === authid);
    if (position < 0) return undefined;
    const e = waiting[position]!;
    const now = this.now();
    const w = this.waits(machine, view, now)[position]!;
    return {
      machine, position, queueLength: entries.length, etaSeconds: Math.round(w.ms / 1000),
      ...(w.known ? { etaAt: Math.round(now + w.ms) } : {}),
      ...(e.state === 'ready_check' && e.readyDeadline !== null ? { readyDeadline: e.readyDeadline } : {}),
    };
  }

  private stateOf(machine: string, paused: boolean) {
    return displayState(this.registry.online(machine), this.registry.get(machine).status?.state, paused);
  }

  private effective(row: MachineRow): Settings {
    return effectiveSettings(row, this.config.machines[row.id], this.config.defaults);
  }

  // ---------------------------------------------------------------- helpers

  private send(authid: string, message: PlayerMessage): void {
    this.log.debug({ authid, message }, 'send');
    this.wire?.publish(playerTopic(authid), message, false);
  }

  private callNode(procedure: string, payload: unknown, what: string): void {
    this.wire?.call(procedure, payload).catch((err: unknown) => {
      const uri = (err as { error?: string }).error;
      if (what === 'release' && uri === 'wamp.error.no_such_procedure') return; // optional on nodes: the hold timeout releases instead
      this.log.warn({ procedure, err: errorText(err) }, `${what} failed`);
    });
  }

  private identify(authid: string | undefined): string {
    if (typeof authid !== 'string' || authid === '') throw new ClawFault(ClawErrors.notIdentified, 'the router did not disclose who is calling (caller disclosure must be on for this role)');
    return authid;
  }

  /** A machine id from the first argument (a string, or {machine}); whether it exists is checked where it is used. */
  private machineId(machine: unknown): string {
    const id = typeof machine === 'object' && machine !== null ? (machine as { machine?: unknown }).machine : machine;
    if (typeof id !== 'string' || !isUriComponent(id)) throw new ClawFault(ClawErrors.invalidArgument, 'expected a machine id (1–64 of [0-9a-z_-]) as the first argument');
    return id;
  }

  private async knownMachine(machine: unknown): Promise<string> {
    const id = this.machineId(machine);
    if (!await this.repo.machine(id)) throw new ClawFault(ClawErrors.noSuchMachine, `no machine ${id}`);
    return id;
  }

  private limit(authid: string): void {
    if (!this.limiter.take(authid, this.now())) throw new ClawFault(ClawErrors.rateLimited, 'too many queue calls; slow down');
  }
}

/** A peer's error as a bounded log text (URI and message come from the node). */
function errorText(err: unknown): string {
  const e = err as { error?: string; args?: unknown[]; message?: string };
  return preview(e?.error ? `${e.error}${e.args?.[0] ? `: ${String(e.args[0])}` : ''}` : String(e?.message ?? err));
}
