// The queue service's state machine: every player call, node event and
// presence change comes here. Each state change is one SQLite transaction
// (the queue in SQLite is the truth); messages to players go out after the
// commit. Decisions come from queue/rules.ts; WAMP is behind `Wire`.
//
// Per machine, the queue entries move waiting → ready_check → starting →
// playing → (deleted when the turn ends, or back to waiting at the front when
// the turn is abandoned). At most one entry per machine is not `waiting`.
//
// Players, entries and turns are identified by authid and turn id, never by
// display name: start_turn hands the node the turn id, and the node's events
// and `controlled` status carry it back (queue/rules.ts matchTurnEnd).
import {
  ClawErrors, EventPayload, StartTurnResult, StatusPayload, isUriComponent, machineReleaseUri, machineUris, playerTopic,
  type AdminTurnRow, type MachineState, type PlayerMessage, type QueueSnapshot, type SlotResult, type TurnEndReason, type TurnResult,
} from '@clawgate/protocol';
import type { BackendConfig, MachineSettingsPatch, Settings } from '../config.js';
import type { Entry, RemovalReason, Repository } from '../db/repository.js';
import { ClawFault } from '../errors.js';
import { LogThrottle, preview, type Logger } from '../logger.js';
import { MachineRegistry } from '../machines/registry.js';
import { Presence } from '../presence/presence.js';
import {
  READY_GUESS_SECONDS, RateLimiter, TURN_OVERHEAD_SECONDS, currentOf, displayState, effectiveSettings, extendedDeadline, graceExpiry,
  joinDecision, matchTurnEnd, nextAverage, nextStep, plannedTurnMs, positionDue, readyDuringTurn, readyTimeoutAt, turnGraceExpiry,
  waitTimes, waitingOf,
} from '../queue/rules.js';

/** How the coordinator reaches the router (absent while disconnected). */
export interface Wire {
  publish(topic: string, payload: unknown, retain: boolean): void;
  /** Calls `procedure` with `[payload]`; resolves with args[0]. */
  call(procedure: string, payload: unknown): Promise<unknown>;
}

/** What the router says at (re)connect: sessions, start_turn registrations. Statuses arrive as events before this. */
export interface RouterSnapshot {
  sessions: { session: number; authid: string }[];
  registrations: { id: number; uri: string }[];
}

/** A turn that runs this long past its endsAt without turn_ended is ended by the backend (`timeout`). */
export const TURN_OVERRUN_MS = 60_000;

const key = (machine: string, authid: string) => `${machine}\u0000${authid}`;

export class Coordinator {
  readonly registry = new MachineRegistry();
  readonly presence = new Presence();
  private wire: Wire | undefined;
  private readonly lastSent = new Map<string, number>();
  private readonly readyTimers = new Map<string, { entryId: number; at: number; timer: NodeJS.Timeout }>();
  private readonly overrunTimers = new Map<string, { turnId: number; timer: NodeJS.Timeout }>();
  /** A player in control whose sessions are all gone loses the turn when this fires (presence.turnGraceSeconds). */
  private readonly goneTimers = new Map<string, { turnId: number; at: number; timer: NodeJS.Timeout }>();
  /** When the backend last attached to the router: the recovery window runs from here. */
  private attachedAt = 0;
  /**
   * Queued players absent when the backend attached and not seen since: they
   * may be reconnecting after a restart (the recovery window's rules apply to
   * them only; a player seen after the attach who reloads has the usual ones).
   */
  private readonly awaited = new Set<string>();
  private readonly graceTimers = new Map<number, NodeJS.Timeout>();
  /** A turn_ended that came before its start_turn's answer was handled. */
  private readonly endedWhileStarting = new Map<string, { turnId: number; result: TurnResult }>();
  /** end_turn calls in flight per machine. */
  private readonly endingByUs = new Map<string, number>();
  /** The start_turn registrations (the node's session) a machine's current turn started under. */
  private readonly turnNode = new Map<string, { turnId: number; registrations: Set<number> }>();
  /** An old node's turn_ended without turn id or authid, since the current turn started (matchTurnEnd). */
  private readonly unattributedEnd = new Map<string, { turnId: number; result: TurnResult }>();
  /** Node messages the backend ignores, logged at most every 10 s per kind. */
  private readonly ignoredLog = { stale: new LogThrottle(10_000), malformed: new LogThrottle(10_000), foreignStatus: new LogThrottle(10_000) };
  private readonly limiter: RateLimiter;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly repo: Repository, private readonly config: BackendConfig, private readonly log: Logger, now: () => number = Date.now) {
    this.limiter = new RateLimiter(config.rateLimit.calls, config.rateLimit.perSeconds);
    this.now = now;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Connected to the router: rebuild presence and machines, then tell everyone where they stand ("updateClients"). */
  attach(wire: Wire, snapshot: RouterSnapshot): void {
    this.wire = wire;
    this.attachedAt = this.now();
    this.presence.clear();
    this.lastSent.clear();
    for (const s of snapshot.sessions) this.presence.join(s.session, s.authid);
    for (const r of snapshot.registrations) {
      const id = this.registry.registered(r.uri, r.id);
      if (id !== undefined) this.repo.ensureMachine(id, this.now());
    }
    const now = this.now();
    this.awaited.clear();
    this.repo.tx(() => {
      const authids = new Set(this.repo.allEntries().map((e) => e.authid));
      for (const a of authids) {
        if (this.presence.present(a)) this.repo.markConnected(a);
        else { this.repo.markDisconnected(a, now); this.awaited.add(a); }
      }
    });
    for (const m of this.repo.machines()) {
      this.reconcileTurn(m.id);
      this.refresh(m.id, { resendAll: true });
    }
    this.log.info({ sessions: snapshot.sessions.length, machines: this.registry.ids().filter((id) => this.registry.online(id)) }, 'reconciled with the router');
  }

  /** The router session is gone: timers stop; attach() rebuilds everything from SQLite and the meta API. */
  detach(): void {
    this.wire = undefined;
    this.registry.clear();
    this.presence.clear();
    this.awaited.clear();
    this.clearTimers();
  }

  stop(): void {
    this.stopped = true;
    this.detach();
  }

  /** Connected to the router and reconciled: presence is known. */
  get attached(): boolean { return this.wire !== undefined && !this.stopped; }

  /** A session with this authid is on the router (as far as the meta events told us). */
  isPresent(authid: string): boolean { return this.presence.present(authid); }

  private clearTimers(): void {
    for (const t of this.readyTimers.values()) clearTimeout(t.timer);
    for (const t of this.overrunTimers.values()) clearTimeout(t.timer);
    for (const t of this.goneTimers.values()) clearTimeout(t.timer);
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.readyTimers.clear();
    this.overrunTimers.clear();
    this.goneTimers.clear();
    this.endingByUs.clear();
    this.endedWhileStarting.clear();
    this.turnNode.clear();
    this.unattributedEnd.clear();
    this.graceTimers.clear();
  }

  // ---------------------------------------------------------------- player procedures

  /**
   * Joins the queue, or answers the caller's place (idempotent). With
   * `resume` (a page reclaiming the place it held before a reload) it never
   * joins: a caller with no place gets not_in_queue, so a place that ended
   * while the page was away is not silently replaced by one at the back.
   */
  requestSlot(authid: string | undefined, machine: unknown, o: { resume?: boolean } = {}): SlotResult {
    const who = this.identify(authid);
    const id = this.knownMachine(machine);
    this.limit(who);
    const settings = this.settings(id);
    const quota = this.config.guests.queuePlacesPerAddress;
    const now = this.now();
    let blockedUntil: number | undefined;
    const decision = this.repo.tx(() => {
      // Guests minted from one client address share a quota of places per queue (rows with no address: none).
      const address = quota > 0 ? this.repo.playerAddress(who) : null;
      blockedUntil = this.repo.blockedUntil(id, who, now);
      const d = joinDecision({
        alreadyQueued: this.repo.entry(id, who) !== undefined,
        resumeOnly: o.resume === true,
        blocked: blockedUntil !== undefined,
        online: this.registry.online(id),
        queueLength: this.repo.queueLength(id),
        maxQueue: settings.maxQueue,
        addressPlaces: address === null ? 0 : this.repo.placesOfAddress(id, address),
        placesPerAddress: address === null ? 0 : quota,
      });
      if (d === 'join') this.repo.insertEntry(id, who, now);
      return d;
    });
    if (decision === ClawErrors.notInQueue) throw new ClawFault(decision, `you hold no place in the queue of ${id} (any more)`);
    if (decision === ClawErrors.blocked) {
      throw new ClawFault(decision, `an operator removed you from the queue of ${id}; you can join it again at ${new Date(blockedUntil!).toISOString()}`, { until: blockedUntil });
    }
    if (decision === ClawErrors.machineOffline) throw new ClawFault(decision, `machine ${id} is offline`);
    if (decision === ClawErrors.queueFull) throw new ClawFault(decision, `the queue of ${id} is full (${settings.maxQueue})`);
    if (decision === ClawErrors.quotaExceeded) throw new ClawFault(decision, `players from your network already hold ${quota} places in the queue of ${id}; try again when one of them has played`);
    if (decision === 'join') this.log.info({ machine: id, authid: who }, 'joined the queue');
    this.refresh(id);
    const slot = this.slotOf(id, who)!;
    // A page reclaiming its place after a reload subscribed its topic before calling: the prompt
    // or the control it may have missed (sent at its session's on_join) reaches it now.
    if (decision === 'existing') this.resendState(id, who);
    return slot;
  }

  leave(authid: string | undefined, machine: unknown): { machine: string; left: true } {
    const who = this.identify(authid);
    const id = this.knownMachine(machine);
    this.limit(who);
    const e = this.repo.entry(id, who);
    if (!e) throw new ClawFault(ClawErrors.notInQueue, `you are not in the queue of ${id}`);
    if (e.state === 'starting' || e.state === 'playing') this.endCurrent(id, e, 'skipped', who, { callNode: true, reason: 'left' });
    else this.remove(id, e, 'left');
    return { machine: id, left: true };
  }

  ready(authid: string | undefined, machine: unknown): { machine: string; confirmed: true } {
    const who = this.identify(authid);
    const id = this.knownMachine(machine);
    this.limit(who);
    const e = this.repo.entry(id, who);
    if (!e) throw new ClawFault(ClawErrors.notInQueue, `you are not in the queue of ${id}`);
    if (e.state === 'starting' || e.state === 'playing') return { machine: id, confirmed: true };
    if (e.state !== 'ready_check') throw new ClawFault(ClawErrors.notYourTurn, `it is not your turn on ${id} yet`);
    // How long players take to confirm feeds the wait estimate (a deadline pushed after a restart is no sample).
    if (e.askedAt !== null && e.readyExtended === 0) {
      const row = this.repo.machine(id);
      this.repo.tx(() => this.repo.recordReadyDelay(id, nextAverage(row?.avgReadyMs ?? null, row?.avgReadyMs == null ? 0 : 1, this.now() - e.askedAt!)));
    }
    this.startTurn(id, e);
    return { machine: id, confirmed: true };
  }

  queueGet(machine: unknown, withAuthids = false): QueueSnapshot {
    return this.snapshot(this.knownMachine(machine), withAuthids);
  }

  /** Machines with state and queue length; the WAMP layer adds spectators. */
  machines(): { machine: string; state: MachineState; queueLength: number; paused: boolean }[] {
    return this.repo.machines().map((m) => ({ machine: m.id, state: this.stateOf(m.id, m.paused), queueLength: this.repo.queueLength(m.id), paused: m.paused }));
  }

  // ---------------------------------------------------------------- operator procedures

  pause(machine: unknown, actor: string | null): { machine: string; paused: true } {
    const id = this.knownMachine(machine);
    this.repo.tx(() => { this.repo.setPaused(id, true); this.repo.audit(this.now(), id, 'pause', actor, null, null, undefined); });
    this.log.info({ machine: id, actor }, 'paused');
    this.refresh(id);
    return { machine: id, paused: true };
  }

  resume(machine: unknown, actor: string | null): { machine: string; paused: false } {
    const id = this.knownMachine(machine);
    this.repo.tx(() => { this.repo.setPaused(id, false); this.repo.audit(this.now(), id, 'resume', actor, null, null, undefined); });
    this.log.info({ machine: id, actor }, 'resumed');
    this.refresh(id);
    return { machine: id, paused: false };
  }

  /** Ends the current turn (`skipped`), or skips the player being asked to get ready. */
  skip(machine: unknown, actor: string | null): { machine: string; skipped: string } {
    const id = this.knownMachine(machine);
    const entries = this.repo.entries(id);
    const current = currentOf(entries);
    if (current) {
      this.endCurrent(id, current, 'skipped', actor, { callNode: true, audit: 'skip', reason: 'skip' });
      return { machine: id, skipped: current.name };
    }
    const asked = entries.find((e) => e.state === 'ready_check');
    if (asked) {
      this.remove(id, asked, 'kicked', { action: 'skip', actor });
      return { machine: id, skipped: asked.name };
    }
    throw new ClawFault(ClawErrors.noTurn, `no turn to skip on ${id}`);
  }

  /**
   * Removes a player from a queue (their turn, if any, ends `skipped`).
   * `blockMinutes`: they may not join this machine's queue again for that
   * long (at most kicks.maxBlockMinutes); request_slot says claw.error.blocked.
   */
  kick(machine: unknown, authid: unknown, actor: string | null, o: { blockMinutes?: unknown } = {}): { machine: string; kicked: string; blockedUntil?: number } {
    const id = this.knownMachine(machine);
    if (typeof authid !== 'string' || !isUriComponent(authid)) throw new ClawFault(ClawErrors.invalidArgument, 'kick needs the player\'s authid as the second argument');
    const max = this.config.kicks.maxBlockMinutes;
    const minutes = o.blockMinutes ?? 0;
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0 || minutes > max) {
      throw new ClawFault(ClawErrors.invalidArgument, `blockMinutes must be a number from 0 to ${max}`);
    }
    const e = this.repo.entry(id, authid);
    if (!e) throw new ClawFault(ClawErrors.notInQueue, `${authid} is not in the queue of ${id}`);
    const now = this.now();
    const blockedUntil = minutes > 0 ? Math.round(now + minutes * 60_000) : undefined;
    if (blockedUntil !== undefined) this.repo.tx(() => this.repo.block(id, authid, blockedUntil, actor, now, this.config.kicks.maxBlocks));
    if (e.state === 'starting' || e.state === 'playing') {
      this.endCurrent(id, e, 'skipped', actor, { callNode: true, audit: 'kick', removed: 'kicked', reason: 'kick', blockedUntil });
      this.repo.tx(() => this.recordRemoval(id, e, 'kicked', actor, blockedUntil));
    } else {
      this.remove(id, e, 'kicked', { action: 'kick', actor }, blockedUntil);
    }
    if (blockedUntil !== undefined) this.log.info({ machine: id, authid, actor, blockedUntil }, 'blocked from rejoining');
    return { machine: id, kicked: e.name, ...(blockedUntil !== undefined ? { blockedUntil } : {}) };
  }

  settingsOf(machine: unknown, patch: MachineSettingsPatch, actor: string | null): { machine: string } & Settings {
    const id = this.knownMachine(machine);
    if (Object.keys(patch).length > 0) {
      this.repo.tx(() => { this.repo.setSettings(id, patch); this.repo.audit(this.now(), id, 'settings', actor, null, null, patch); });
      this.log.info({ machine: id, actor, patch }, 'settings changed');
      this.refresh(id);
    }
    return { machine: id, ...this.settings(id) };
  }

  /**
   * Recent turns and removals without a turn (no-shows, kicks, grace
   * expiries), newest first (by when they ended, or started for a turn in
   * progress), at most `limit` (1–500) rows.
   */
  turns(machine: unknown, limit: number): AdminTurnRow[] {
    const id = machine === undefined || machine === null ? null : this.knownMachine(machine);
    const n = Math.min(Math.max(1, Math.floor(limit)), 500);
    const rows: AdminTurnRow[] = [
      ...this.repo.recentTurns(id, n).map((r) => ({ ...r, kind: 'turn' as const })),
      ...this.repo.recentRemovals(id, n).map((r) => ({
        id: r.id, kind: 'removed' as const, machine: r.machine, authid: r.authid, name: r.name, startedAt: null, endsAt: null, endedAt: r.at,
        result: null, endedBy: r.actor, reason: r.reason, blockedUntil: r.blockedUntil,
      })),
    ];
    const when = (r: AdminTurnRow) => r.endedAt ?? r.startedAt ?? 0;
    return rows.sort((a, b) => when(b) - when(a)).slice(0, n);
  }

  // ---------------------------------------------------------------- node events

  registrationCreated(uri: string, registration: number): void {
    if (!this.wire) return;
    const id = this.registry.registered(uri, registration);
    if (id === undefined) return;
    this.repo.ensureMachine(id, this.now());
    this.log.info({ machine: id }, 'claw node registered');
    this.refresh(id);
  }

  registrationGone(registration: number): void {
    if (!this.wire) return;
    const id = this.registry.unregistered(registration);
    if (id === undefined) return;
    // A node stopped cleanly says so first (status offline, reason `stopped`): that is no incident.
    const status = this.registry.get(id).status;
    const clean = status?.state === 'offline' && status.reason === 'stopped';
    if (clean) this.log.info({ machine: id }, 'claw node unregistered (stopped)');
    else this.log.warn({ machine: id }, 'claw node unregistered');
    this.clawLost(id);
  }

  status(machine: string, raw: unknown): void {
    const p = StatusPayload.safeParse(raw);
    if (!p.success) {
      this.ignoredLog.malformed.maybe(this.now(), (suppressed) => this.log.warn({ machine, payload: preview(raw), suppressed }, 'malformed status ignored'));
      return;
    }
    const rt = this.registry.get(machine);
    rt.status = p.data;
    if (p.data.state === 'ready') rt.holdUntilReady = false;
    if (!this.wire) return; // (re)connecting: attach() decides with the full picture
    if (!this.registry.online(machine) || p.data.state === 'maintenance') { this.clawLost(machine); return; }
    const current = currentOf(this.repo.entries(machine));
    // `ready` during a turn we think runs, with no turn_ended matched to it (queue/rules.ts readyDuringTurn).
    if (current?.state === 'playing' && p.data.state === 'ready') { this.nodeReadyDuringTurn(machine, current); return; }
    if (current && p.data.state === 'controlled' && p.data.turn !== undefined && p.data.turn !== current.turnId) {
      this.ignoredLog.foreignStatus.maybe(this.now(), (suppressed) => this.log.warn({ machine, turn: current.turnId, nodeTurn: p.data.turn, suppressed }, 'node says it runs another turn'));
    }
    this.refresh(machine);
  }

  nodeEvent(machine: string, raw: unknown): void {
    if (!this.wire) return;
    const p = EventPayload.safeParse(raw);
    if (!p.success || p.data.type !== 'turn_ended' || p.data.result === undefined) return;
    // A turn the backend ended itself (end_turn in flight): the node's turn_ended for it comes
    // before end_turn's answer, and is not news.
    if ((this.endingByUs.get(machine) ?? 0) > 0) return;
    const current = currentOf(this.repo.entries(machine));
    if (!current) return;
    const match = matchTurnEnd(p.data, current);
    if (match === 'other_turn') {
      this.ignoredLog.stale.maybe(this.now(), (suppressed) => this.log.info({ machine, turn: current.turnId, eventTurn: p.data.turn, suppressed }, 'turn_ended for another turn ignored'));
      return;
    }
    if (match === 'unattributed') {
      // An old node's event: applied if the node says `ready` next (nodeReadyDuringTurn) or start_turn's answer follows.
      if (current.turnId !== null) this.unattributedEnd.set(machine, { turnId: current.turnId, result: p.data.result });
      return;
    }
    // Before start_turn's answer is handled (both can arrive in one read): end it right after, so the
    // player still sees control true, then the result.
    if (current.state === 'starting') { this.endedWhileStarting.set(machine, { turnId: current.turnId!, result: p.data.result }); return; }
    this.endCurrent(machine, current, p.data.result, null, { callNode: false, reason: 'node' });
  }

  // ---------------------------------------------------------------- presence

  /**
   * A session of `authid` is on the router. Every new session (the player's
   * first, a second tab, a reload) is told where the player stands: position,
   * the ready prompt with its deadline, control with the turn's topic and end.
   * A player back after being away is connected again, and a ready check
   * running out while they were reconnecting after a restart gets a fresh
   * ready window (once; rules.ts extendedDeadline).
   */
  sessionJoined(session: number, authid: string): void {
    if (!this.wire) return;
    const kind = this.presence.join(session, authid);
    if (kind === 'known') return;
    const entries = this.repo.entriesOf(authid);
    if (entries.length === 0) return;
    if (kind === 'first') {
      const now = this.now();
      // Back for the first time since the attach: a ready check that ran down meanwhile gets a fresh window (once).
      const wasAwaited = this.awaited.delete(authid);
      this.repo.tx(() => {
        this.repo.markConnected(authid);
        for (const e of entries) {
          if (!wasAwaited || e.state !== 'ready_check' || e.readyDeadline === null) continue;
          const deadline = extendedDeadline({
            deadline: e.readyDeadline, extended: e.readyExtended === 1, now, attachedAt: this.attachedAt,
            recoveryWindowMs: this.config.presence.recoveryWindowSeconds * 1000, readyWindowMs: this.settings(e.machine).readyWindowSeconds * 1000,
          });
          if (deadline !== undefined && this.repo.extendReady(e.id, deadline)) this.log.info({ machine: e.machine, authid, deadline }, 'ready check extended: the player is back after a restart');
        }
      });
    }
    for (const e of entries) {
      this.lastSent.delete(key(e.machine, authid));
      this.refresh(e.machine, { resendTo: authid });
    }
  }

  sessionLeft(session: number): void {
    if (!this.wire) return;
    const authid = this.presence.leave(session);
    if (authid === undefined) return;
    const entries = this.repo.entriesOf(authid);
    if (entries.length === 0) return;
    this.repo.tx(() => this.repo.markDisconnected(authid, this.now()));
    this.log.info({ authid, machines: entries.map((e) => e.machine) }, 'player disconnected');
    for (const e of entries) {
      // In control: the node releases every line now; the turn and its timers go on.
      if (e.state === 'playing') this.callNode(machineReleaseUri(e.machine), { player: authid, ...(e.turnId !== null ? { turn: e.turnId } : {}) }, 'release');
      this.refresh(e.machine);
    }
  }

  // ---------------------------------------------------------------- transitions

  private startTurn(machine: string, e: Entry): void {
    const settings = this.settings(machine);
    const turnId = this.repo.tx(() => {
      const id = this.repo.insertTurn(machine, e.authid, e.name, this.now());
      this.repo.setEntryState(e.id, 'starting', null, id);
      return id;
    });
    this.log.info({ machine, authid: e.authid, turn: turnId }, 'starting turn');
    this.turnNode.set(machine, { turnId, registrations: new Set(this.registry.get(machine).registrations) });
    this.unattributedEnd.delete(machine);
    this.refresh(machine);
    const wire = this.wire;
    const call = wire
      ? wire.call(machineUris(machine).startTurn, { player: e.authid, moveSeconds: settings.moveSeconds, name: e.name, turn: turnId })
      : Promise.reject(new Error('not connected to the router'));
    call.then((raw) => {
      const r = StartTurnResult.safeParse(raw);
      if (!r.success) throw new Error(`start_turn answered ${preview(raw)}`);
      const now = this.repo.entry(machine, e.authid);
      if (this.stopped || now?.state !== 'starting' || now.turnId !== turnId) return; // ended meanwhile
      this.repo.tx(() => { this.repo.setEntryState(e.id, 'playing', null, turnId); this.repo.turnStarted(turnId, r.data.endsAt); });
      this.send(e.authid, { type: 'control', control: true, machine, topic: r.data.topic, endsAt: r.data.endsAt });
      this.log.info({ machine, authid: e.authid, turn: turnId, endsAt: r.data.endsAt }, 'turn started');
      const early = this.endedWhileStarting.get(machine);
      if (early?.turnId === turnId) {
        this.endedWhileStarting.delete(machine);
        this.endCurrent(machine, this.repo.entry(machine, e.authid)!, early.result, null, { callNode: false, reason: 'node' });
        return;
      }
      // An old node's unattributed turn_ended came before this answer: in the node's order it is this turn's end.
      const unattributed = this.unattributedEnd.get(machine);
      if (unattributed?.turnId === turnId && this.registry.get(machine).status?.state === 'ready') {
        this.unattributedEnd.delete(machine);
        this.endCurrent(machine, this.repo.entry(machine, e.authid)!, unattributed.result, null, { callNode: false, reason: 'node' });
        return;
      }
      if (!this.presence.present(e.authid)) this.callNode(machineReleaseUri(machine), { player: e.authid, turn: turnId }, 'release');
      this.refresh(machine);
    }).catch((err: unknown) => {
      if (this.endedWhileStarting.get(machine)?.turnId === turnId) this.endedWhileStarting.delete(machine);
      if (this.stopped) return;
      const now = this.repo.entry(machine, e.authid);
      this.log.warn({ machine, authid: e.authid, err: errorText(err) }, 'start_turn failed');
      if (now?.state !== 'starting' || now.turnId !== turnId) return;
      this.registry.get(machine).holdUntilReady = true;
      this.endCurrent(machine, now, 'abandoned', null, { callNode: false, backToFront: true, reason: 'start_failed' });
    });
  }

  /**
   * Ends the current turn with `result`. An abandoned turn puts its player
   * back at the front; any other removes the entry.
   */
  private endCurrent(machine: string, e: Entry, result: TurnResult, actor: string | null,
    o: { callNode: boolean; reason: TurnEndReason; backToFront?: boolean; audit?: string; removed?: 'kicked'; blockedUntil?: number | undefined }): void {
    const now = this.now();
    const backToFront = o.backToFront ?? result === 'abandoned';
    this.repo.tx(() => {
      if (e.turnId !== null) {
        this.repo.finishTurn(e.turnId, now, result, actor, o.reason);
        const turn = this.repo.turn(e.turnId);
        const row = this.repo.machine(machine);
        if (turn && row && (result === 'win' || result === 'lose' || result === 'timeout')) {
          this.repo.recordTurnLength(machine, nextAverage(row.avgTurnMs, row.turnsCount, now - turn.startedAt));
        }
        // A turn the node ended after its timer ran out measures the drop cycle (an early drop says nothing about it).
        if (turn?.endsAt != null && row && o.reason === 'node' && (result === 'win' || result === 'lose') && now > turn.endsAt) {
          this.repo.recordDropCycle(machine, nextAverage(row.avgDropMs, row.avgDropMs === null ? 0 : 1, now - turn.endsAt));
        }
      }
      if (backToFront) { this.repo.setEntryState(e.id, 'waiting'); this.repo.moveToFront(machine, e.id); } else this.repo.deleteEntry(e.id);
      if (o.audit) this.repo.audit(now, machine, o.audit, actor, e.authid, e.turnId, { result });
    });
    this.lastSent.delete(key(machine, e.authid));
    if (this.turnNode.get(machine)?.turnId === e.turnId) this.turnNode.delete(machine);
    if (this.unattributedEnd.get(machine)?.turnId === e.turnId) this.unattributedEnd.delete(machine);
    this.log.info({ machine, authid: e.authid, turn: e.turnId, result, actor }, 'turn ended');
    if (o.callNode) {
      this.endingByUs.set(machine, (this.endingByUs.get(machine) ?? 0) + 1);
      const done = () => { const n = (this.endingByUs.get(machine) ?? 1) - 1; if (n > 0) this.endingByUs.set(machine, n); else this.endingByUs.delete(machine); };
      const call = this.wire?.call(machineUris(machine).endTurn, { reason: result, ...(e.turnId !== null ? { turn: e.turnId } : {}) });
      if (call) call.then(done, (err: unknown) => { done(); this.log.warn({ machine, err: errorText(err) }, 'end_turn failed'); });
      else done();
    }
    this.send(e.authid, { type: 'control', control: false, machine, result });
    if (o.removed) this.send(e.authid, { type: 'removed', machine, reason: o.removed, ...(o.blockedUntil !== undefined ? { blockedUntil: o.blockedUntil } : {}) });
    this.refresh(machine);
  }

  private remove(machine: string, e: Entry, reason: 'left' | 'kicked' | 'timeout' | 'grace_expired', audit?: { action: string; actor: string | null }, blockedUntil?: number): void {
    this.repo.tx(() => {
      this.repo.deleteEntry(e.id);
      if (audit) this.repo.audit(this.now(), machine, audit.action, audit.actor, e.authid, null, { reason, ...(blockedUntil !== undefined ? { blockedUntil } : {}) });
      if (reason !== 'left') this.recordRemoval(machine, e, reason, audit?.actor ?? null, blockedUntil);
    });
    this.lastSent.delete(key(machine, e.authid));
    this.log.info({ machine, authid: e.authid, reason }, 'left the queue');
    this.send(e.authid, { type: 'removed', machine, reason, ...(blockedUntil !== undefined ? { blockedUntil } : {}) });
    this.refresh(machine);
  }

  /** A no-show, kick or grace expiry, for the dashboard's table (inside the caller's transaction). */
  private recordRemoval(machine: string, e: Entry, reason: RemovalReason, actor: string | null, blockedUntil: number | undefined): void {
    this.repo.recordRemoval({ at: this.now(), machine, authid: e.authid, name: e.name, reason, actor, blockedUntil: blockedUntil ?? null }, this.config.history.maxRemovals);
  }

  /** The node is gone (or lost the turn): the turn in play is abandoned, its player back at the front; a ready check is called off. */
  private clawLost(machine: string): void {
    const entries = this.repo.entries(machine);
    const current = currentOf(entries);
    if (current?.state === 'playing') { this.endCurrent(machine, current, 'abandoned', null, { callNode: false, reason: 'node_lost' }); return; }
    const asked = entries.find((e) => e.state === 'ready_check');
    if (asked) {
      this.repo.tx(() => this.repo.setEntryState(asked.id, 'waiting'));
      this.lastSent.delete(key(machine, asked.authid));
    }
    this.refresh(machine);
  }

  /** The node said `ready` while `current` plays, with no turn_ended matched to it. */
  private nodeReadyDuringTurn(machine: string, current: Entry): void {
    const unattributed = this.unattributedEnd.get(machine);
    this.unattributedEnd.delete(machine);
    const started = this.turnNode.get(machine);
    const registrations = this.registry.get(machine).registrations;
    const result = readyDuringTurn({
      unattributed: unattributed?.turnId === current.turnId ? unattributed.result : undefined,
      sameNodeSession: started?.turnId === current.turnId && [...started.registrations].some((r) => registrations.has(r)),
    });
    if (result === 'abandoned') { this.clawLost(machine); return; }
    if (unattributed === undefined) this.log.warn({ machine, turn: current.turnId }, 'node ready without turn_ended: turn ended as timeout');
    this.endCurrent(machine, current, result, null, { callNode: false, reason: unattributed === undefined ? 'silent' : 'node' });
  }

  /** After a restart: a turn recorded as starting or playing is checked against what the node says. */
  private reconcileTurn(machine: string): void {
    const current = currentOf(this.repo.entries(machine));
    if (!current) return;
    const status = this.registry.get(machine).status;
    // A node that names its turn must name this one; an old node's `controlled` is taken as this turn.
    const stillRunning = this.registry.online(machine) && status?.state === 'controlled' && (status.turn === undefined || status.turn === current.turnId);
    if (stillRunning && current.turnId !== null) this.turnNode.set(machine, { turnId: current.turnId, registrations: new Set(this.registry.get(machine).registrations) });
    if (stillRunning && current.state === 'starting') {
      // start_turn went through before the crash; its endsAt is unknown (the node still ends the turn).
      this.repo.tx(() => this.repo.setEntryState(current.id, 'playing', null, current.turnId));
      return;
    }
    if (!stillRunning) this.endCurrent(machine, current, 'abandoned', null, { callNode: false, reason: 'node_lost' });
  }

  /**
   * After any change on a machine: start the next ready check if due, keep
   * timers in step with SQLite, publish the retained queue snapshot, and tell
   * each waiting player whose position changed.
   */
  private refresh(machine: string, o: { resendAll?: boolean; resendTo?: string } = {}): void {
    if (this.stopped) return;
    let entries = this.repo.entries(machine);
    const row = this.repo.machine(machine);
    const rt = this.registry.get(machine);
    const step = nextStep({
      online: this.registry.online(machine), nodeReady: rt.status?.state === 'ready', paused: row?.paused ?? false,
      entries, holdUntilReady: rt.holdUntilReady,
    });
    const settings = this.settings(machine);
    if (step.kind === 'ready_check') {
      const now = this.now();
      const deadline = now + settings.readyWindowSeconds * 1000;
      this.repo.tx(() => this.repo.askReady(step.entryId, deadline, now));
      entries = this.repo.entries(machine);
      const e = entries.find((x) => x.id === step.entryId)!;
      this.log.info({ machine, authid: e.authid, deadline }, 'ready check');
      this.sendPositions(machine, entries, settings, o);
      this.send(e.authid, { type: 'get_ready', machine, deadline });
    } else {
      this.sendPositions(machine, entries, settings, o);
    }
    this.syncTimers(machine, entries, settings);
    this.wire?.publish(machineUris(machine).queue, this.snapshot(machine, false, entries), true);
  }

  private sendPositions(machine: string, entries: Entry[], settings: Settings, o: { resendAll?: boolean; resendTo?: string }): void {
    const waiting = waitingOf(entries);
    const current = currentOf(entries);
    const waits = this.waits(machine, entries, settings);
    waiting.forEach((e, position) => {
      const k = key(machine, e.authid);
      const resend = o.resendAll === true || o.resendTo === e.authid;
      if (!resend && !positionDue(this.lastSent.get(k), position)) return;
      this.lastSent.set(k, position);
      const w = waits[position]!;
      this.send(e.authid, { type: 'position', machine, position, etaSeconds: Math.round(w.ms / 1000), ...(w.known ? { etaAt: Math.round(this.now() + w.ms) } : {}) });
      if (resend && e.state === 'ready_check' && e.readyDeadline !== null) this.send(e.authid, { type: 'get_ready', machine, deadline: e.readyDeadline });
    });
    if (current && (o.resendAll === true || o.resendTo === current.authid)) this.resendControl(machine, current);
  }

  /** Tells the player again what they may have missed: the ready prompt with its deadline, or control of the running turn. */
  private resendState(machine: string, authid: string): void {
    const e = this.repo.entry(machine, authid);
    if (!e) return;
    if (e.state === 'ready_check' && e.readyDeadline !== null) this.send(authid, { type: 'get_ready', machine, deadline: e.readyDeadline });
    if (e.state === 'playing') this.resendControl(machine, e);
  }

  private resendControl(machine: string, current: Entry): void {
    if (current.state !== 'playing') return;
    const turn = current.turnId !== null ? this.repo.turn(current.turnId) : undefined;
    if (turn?.endsAt != null) this.send(current.authid, { type: 'control', control: true, machine, topic: machineUris(machine).control(current.authid), endsAt: turn.endsAt });
  }

  /**
   * How long until each waiting player (queue order) is asked, in ms, and
   * whether that is known (not while paused or the node is not there): the
   * estimate as if it went on now is still given as etaSeconds, which the
   * protocol requires; etaAt only when known.
   */
  private waits(machine: string, entries: Entry[], settings: Settings): { ms: number; known: boolean }[] {
    const row = this.repo.machine(machine);
    const current = currentOf(entries);
    const turn = current?.turnId != null ? this.repo.turn(current.turnId) : undefined;
    const now = this.now();
    const nodeState = this.registry.get(machine).status?.state;
    const halted = (row?.paused ?? false) || !this.registry.online(machine) || (nodeState !== 'ready' && nodeState !== 'controlled');
    const view = {
      now, halted: false,
      turnMs: plannedTurnMs(row?.avgTurnMs ?? null, settings.moveSeconds),
      readyMs: row?.avgReadyMs ?? READY_GUESS_SECONDS * 1000,
      dropMs: row?.avgDropMs ?? TURN_OVERHEAD_SECONDS * 1000,
      readyWindowMs: settings.readyWindowSeconds * 1000,
      current: current ? { startedAt: turn?.startedAt ?? now, endsAt: turn?.endsAt ?? null } : undefined,
      waiting: waitingOf(entries).map((e) => ({ present: e.disconnectedAt === null, readyDeadline: e.state === 'ready_check' ? e.readyDeadline : null, askedAt: e.askedAt })),
    };
    return waitTimes(view).map((ms) => ({ ms: ms ?? 0, known: !halted }));
  }

  /** Ready deadline, grace periods and the turn overrun watchdog, each derived from what SQLite holds. */
  private syncTimers(machine: string, entries: Entry[], settings: Settings): void {
    if (!this.wire) return; // while disconnected nothing expires; attach() re-derives every timer
    const asked = entries.find((e) => e.state === 'ready_check');
    const rt = this.readyTimers.get(machine);
    const readyAt = asked?.readyDeadline != null ? this.readyTimeout(asked) : undefined;
    if (rt && (rt.entryId !== asked?.id || rt.at !== readyAt)) { clearTimeout(rt.timer); this.readyTimers.delete(machine); }
    if (asked && readyAt !== undefined && !this.readyTimers.has(machine)) {
      const timer = setTimeout(() => { this.readyTimers.delete(machine); this.readyExpired(machine, asked.id); }, Math.max(0, readyAt - this.now()));
      this.readyTimers.set(machine, { entryId: asked.id, at: readyAt, timer });
    }

    const current = currentOf(entries);
    const ot = this.overrunTimers.get(machine);
    const playing = current?.state === 'playing' ? current : undefined;
    if (ot && ot.turnId !== playing?.turnId) { clearTimeout(ot.timer); this.overrunTimers.delete(machine); }
    if (playing?.turnId != null && !this.overrunTimers.has(machine)) {
      const turn = this.repo.turn(playing.turnId);
      const endsAt = turn?.endsAt ?? (turn ? turn.startedAt + settings.moveSeconds * 1000 : this.now());
      const turnId = playing.turnId;
      const timer = setTimeout(() => { this.overrunTimers.delete(machine); this.overrun(machine, turnId); }, Math.max(0, endsAt + TURN_OVERRUN_MS - this.now()));
      this.overrunTimers.set(machine, { turnId, timer });
    }

    // A player in control who is gone (every session) past the turn grace gives the machine back.
    const gt = this.goneTimers.get(machine);
    const goneAt = playing?.turnId != null && playing.disconnectedAt !== null
      ? turnGraceExpiry(playing.disconnectedAt, this.attachedAt, this.config.presence.turnGraceSeconds * 1000) : undefined;
    if (gt && (gt.turnId !== playing?.turnId || gt.at !== goneAt)) { clearTimeout(gt.timer); this.goneTimers.delete(machine); }
    if (playing?.turnId != null && goneAt !== undefined && !this.goneTimers.has(machine)) {
      const turnId = playing.turnId;
      const timer = setTimeout(() => { this.goneTimers.delete(machine); this.playerGone(machine, turnId); }, Math.max(0, goneAt - this.now()));
      this.goneTimers.set(machine, { turnId, at: goneAt, timer });
    }

    for (const e of entries) {
      const t = this.graceTimers.get(e.id);
      const due = e.disconnectedAt !== null && (e.state === 'waiting' || e.state === 'ready_check');
      if (!due) { if (t) { clearTimeout(t); this.graceTimers.delete(e.id); } continue; }
      if (t) continue;
      const at = graceExpiry(e.disconnectedAt!, settings.graceSeconds);
      this.graceTimers.set(e.id, setTimeout(() => { this.graceTimers.delete(e.id); this.graceExpired(machine, e.authid, e.id); }, Math.max(0, at - this.now())));
    }
  }

  /** When the asked entry's ready check times out (rules.ts readyTimeoutAt: not while an absent player may be reconnecting after a restart). */
  private readyTimeout(e: Entry): number {
    return readyTimeoutAt({
      deadline: e.readyDeadline!, awaited: e.disconnectedAt !== null && this.awaited.has(e.authid), attachedAt: this.attachedAt,
      recoveryWindowMs: this.config.presence.recoveryWindowSeconds * 1000,
    });
  }

  private readyExpired(machine: string, entryId: number): void {
    const e = this.repo.entries(machine).find((x) => x.id === entryId);
    if (!e || e.state !== 'ready_check' || e.readyDeadline === null) return;
    if (this.readyTimeout(e) > this.now()) { this.refresh(machine); return; } // pushed meanwhile
    this.remove(machine, e, 'timeout');
  }

  /** The player in control has been gone past the turn grace: their turn ends now (`skipped`, reason `gone`). */
  private playerGone(machine: string, turnId: number): void {
    const current = currentOf(this.repo.entries(machine));
    if (current?.state !== 'playing' || current.turnId !== turnId || current.disconnectedAt === null || this.presence.present(current.authid)) return;
    if (turnGraceExpiry(current.disconnectedAt, this.attachedAt, this.config.presence.turnGraceSeconds * 1000) > this.now()) { this.refresh(machine); return; }
    this.log.info({ machine, authid: current.authid, turn: turnId }, 'player in control gone: ending the turn');
    this.endCurrent(machine, current, 'skipped', current.authid, { callNode: true, reason: 'gone' });
  }

  private graceExpired(machine: string, authid: string, entryId: number): void {
    const e = this.repo.entry(machine, authid);
    if (!e || e.id !== entryId || e.disconnectedAt === null || (e.state !== 'waiting' && e.state !== 'ready_check')) return;
    if (graceExpiry(e.disconnectedAt, this.settings(machine).graceSeconds) > this.now()) { this.refresh(machine); return; }
    this.remove(machine, e, 'grace_expired');
  }

  private overrun(machine: string, turnId: number): void {
    const current = currentOf(this.repo.entries(machine));
    if (current?.state !== 'playing' || current.turnId !== turnId) return;
    this.log.warn({ machine, turn: turnId }, 'no turn_ended long after endsAt: ending the turn');
    this.endCurrent(machine, current, 'timeout', null, { callNode: true, reason: 'overrun' });
  }

  // ---------------------------------------------------------------- helpers

  private snapshot(machine: string, withAuthids: boolean, entries = this.repo.entries(machine)): QueueSnapshot {
    const current = currentOf(entries);
    const turn = current?.turnId != null ? this.repo.turn(current.turnId) : undefined;
    const paused = this.repo.machine(machine)?.paused ?? false;
    const waits = this.waits(machine, entries, this.settings(machine));
    const now = this.now();
    return {
      machine,
      state: this.stateOf(machine, paused),
      // The running turn shows the name it started with (what the node shows); a rename shows from the next turn.
      current: current ? { name: turn?.name ?? current.name, endsAt: turn?.endsAt ?? null, ...(withAuthids ? { authid: current.authid } : {}) } : null,
      waiting: waitingOf(entries).map((e, position) => ({
        name: e.name, position,
        ...(withAuthids ? { authid: e.authid } : {}),
        ...(e.state === 'ready_check' && e.readyDeadline !== null ? { readyDeadline: e.readyDeadline } : {}),
        ...(waits[position]!.known ? { etaAt: Math.round(now + waits[position]!.ms) } : {}),
      })),
      paused,
    };
  }

  private slotOf(machine: string, authid: string): SlotResult | undefined {
    const entries = this.repo.entries(machine);
    const current = currentOf(entries);
    if (current?.authid === authid) {
      const turn = current.state === 'playing' && current.turnId !== null ? this.repo.turn(current.turnId) : undefined;
      return {
        machine, position: 0, queueLength: entries.length, etaSeconds: 0, playing: true,
        ...(turn?.endsAt != null ? { endsAt: turn.endsAt, topic: machineUris(machine).control(authid) } : {}),
      };
    }
    const waiting = waitingOf(entries);
    const position = waiting.findIndex((e) => e.authid === authid);
    if (position < 0) return undefined;
    const e = waiting[position]!;
    const w = this.waits(machine, entries, this.settings(machine))[position]!;
    return {
      machine, position, queueLength: entries.length, etaSeconds: Math.round(w.ms / 1000),
      ...(w.known ? { etaAt: Math.round(this.now() + w.ms) } : {}),
      ...(e.state === 'ready_check' && e.readyDeadline !== null ? { readyDeadline: e.readyDeadline } : {}),
    };
  }

  private stateOf(machine: string, paused: boolean) {
    return displayState(this.registry.online(machine), this.registry.get(machine).status?.state, paused);
  }

  private settings(machine: string): Settings {
    return effectiveSettings(this.repo.machine(machine), this.config.machines[machine], this.config.defaults);
  }

  private send(authid: string, message: PlayerMessage): void {
    this.log.debug({ authid, message }, "send");
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

  private knownMachine(machine: unknown): string {
    const id = typeof machine === 'object' && machine !== null ? (machine as { machine?: unknown }).machine : machine;
    if (typeof id !== 'string' || !isUriComponent(id)) throw new ClawFault(ClawErrors.invalidArgument, 'expected a machine id (1–64 of [0-9a-z_-]) as the first argument');
    if (!this.repo.machine(id)) throw new ClawFault(ClawErrors.noSuchMachine, `no machine ${id}`);
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
