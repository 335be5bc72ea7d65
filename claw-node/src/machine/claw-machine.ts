// One machine's turn logic, independent of WAMP: status, turns (coin pulse,
// move phase with auto-drop, drop pulse, drop cycle, prize window), and the
// player's commands. Every state change, turn end and error releases all
// outputs through SafeOutputs, the only writer of lines.
import {
  ClawErrors, StartTurnArgs, TurnId, TurnResult, machineUris,
  type EventPayload, type MachineStatusState, type StatusPayload,
} from '@clawgate/protocol';
import type { Clock, TimerHandle } from '../clock.js';
import type { GpioDriver } from '../gpio/driver.js';
import type { SafeOutputs } from '../safety/safe-outputs.js';
import type { Timings } from '../config.js';
import { ClawError } from './claw-error.js';
import { actionOf, classifyCommand, parseCommand, type IgnoredReason, type TurnPhase } from './commands.js';
import { PrizeDetector } from './prize-detector.js';

export interface MachineHooks {
  status(s: StatusPayload): void;
  event(e: EventPayload): void;
  /** The turn's phase changed (undefined: the turn is over), e.g. to show it on the lines topic. */
  phase?(phase: TurnPhase | undefined): void;
  log(level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra?: Record<string, unknown>): void;
}

interface Turn {
  /** The player's authid (who may steer). */
  player: string;
  /** The display name: shown in status and events, never used to decide anything. */
  name: string;
  /** The backend's turn id, when start_turn gave one: echoed in events and status, checked by end_turn/release. */
  turnId: number | undefined;
  phase: TurnPhase;
  timer?: TimerHandle;
  dropAt?: number;
  /** SafeOutputs' dead-man count when the turn began (the turn's own releases go in its log line). */
  deadManAtStart: number;
}

export interface MachineStats {
  turns: number;
  accepted: number;
  ignored: Record<IgnoredReason, number>;
  commandErrors: number;
}

const RELEASE_RETRY_MS = 1000;

export class ClawMachine {
  private stateNow: MachineStatusState = 'offline';
  private sinceNow: number;
  /** Said with `offline` when the node itself goes offline for good (a clean stop): `stopped`. */
  private offlineReason: string | undefined;
  private turn: Turn | undefined;
  private readonly prize: PrizeDetector;
  private retryTimer: TimerHandle | undefined;
  readonly stats: MachineStats = {
    turns: 0, accepted: 0, commandErrors: 0,
    ignored: { no_turn: 0, not_player: 0, invalid: 0, wrong_phase: 0 },
  };

  constructor(
    readonly id: string,
    private readonly safe: SafeOutputs,
    driver: GpioDriver,
    private readonly clock: Clock,
    private readonly timings: Timings,
    private readonly hooks: MachineHooks,
  ) {
    this.sinceNow = clock.now();
    this.prize = new PrizeDetector(driver, clock, timings.prizeDebounceMs);
  }

  get state(): MachineStatusState { return this.stateNow; }

  /** The current turn's player authid, name, turn id and phase, if any. */
  get currentTurn(): { player: string; name: string; turnId: number | undefined; phase: TurnPhase } | undefined {
    return this.turn && { player: this.turn.player, name: this.turn.name, turnId: this.turn.turnId, phase: this.turn.phase };
  }

  status(): StatusPayload {
    const s: StatusPayload = { state: this.stateNow, since: this.sinceNow };
    if (this.stateNow === 'offline' && this.offlineReason !== undefined) s.reason = this.offlineReason;
    if (this.stateNow === 'controlled' && this.turn) {
      s.player = this.turn.name;
      s.authid = this.turn.player;
      if (this.turn.turnId !== undefined) s.turn = this.turn.turnId;
    }
    return s;
  }

  /** The router session is up: release everything, then ready (or maintenance until the lines are released). */
  connected(): void {
    this.offlineReason = undefined;
    this.endTurnQuietly('abandoned');
    this.becomeReadyWhenReleased();
  }

  /** The router session is gone: abandon any turn, release everything, offline. */
  disconnected(): void {
    this.endTurnQuietly('abandoned');
    this.clock.clearTimeout(this.retryTimer);
    this.safe.disarm();
    this.setState('offline');
  }

  /** Shutting down: as disconnected, for good; the `offline` status says `reason: "stopped"` (the backend logs no incident). */
  shutdown(): void {
    this.offlineReason = 'stopped';
    this.disconnected();
  }

  /** The current turn's phase, if a turn runs. */
  get turnPhase(): TurnPhase | undefined { return this.turn?.phase; }

  async startTurn(raw: unknown): Promise<{ topic: string; endsAt: number }> {
    const parsed = StartTurnArgs.safeParse(raw);
    if (!parsed.success) {
      throw new ClawError(ClawErrors.invalidArgument, `start_turn: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'args'}: ${i.message}`).join('; ')}`);
    }
    const args = parsed.data;
    if (this.stateNow === 'controlled') throw new ClawError(ClawErrors.machineBusy, `machine ${this.id} is in a turn`);
    if (this.stateNow !== 'ready') throw new ClawError(ClawErrors.machineOffline, `machine ${this.id} is ${this.stateNow}`);

    const turn: Turn = { player: args.player, name: args.name ?? args.player, turnId: args.turn, phase: 'coin', deadManAtStart: this.safe.deadManReleases };
    this.turn = turn;
    this.stats.turns++;
    this.hooks.phase?.('coin');
    this.safe.releaseAll();
    this.safe.arm();
    this.setState('controlled');
    this.hooks.event({ type: 'turn_started', ...this.whose(turn), at: this.clock.now() });

    const coined = await this.safe.pulse('coin');
    if (this.turn !== turn) throw new ClawError(ClawErrors.noTurn, 'the turn ended before it started');
    if (!coined) {
      this.finish('abandoned');
      throw new ClawError(ClawErrors.machineOffline, 'the coin pulse did not complete');
    }
    const moveMs = Math.min(args.moveSeconds, this.timings.maxMoveSeconds) * 1000;
    this.enterPhase(turn, 'move');
    turn.timer = this.clock.setTimeout(() => this.drop(turn), moveMs);
    return { topic: machineUris(this.id).control(turn.player), endsAt: this.clock.now() + moveMs };
  }

  /**
   * end_turn: releases everything; the turn (if any) ends with `reason`.
   * With `turn`, only that turn: a call for another turn (a stale one that
   * crossed a turn change) changes nothing. A turn started without a turn id
   * (by an older backend) counts as any.
   */
  endTurn(raw: unknown): { machine: string; ended: boolean } {
    const reason = (raw as { reason?: unknown } | undefined)?.reason;
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > 64) throw new ClawError(ClawErrors.invalidArgument, 'end_turn: reason must be a string (at most 64 characters)');
    const turnId = this.turnArg(raw, 'end_turn');
    if (turnId !== undefined && this.turn?.turnId !== undefined && this.turn.turnId !== turnId) return { machine: this.id, ended: false };
    if (this.turn === undefined) {
      this.safe.disarm();
      return { machine: this.id, ended: false };
    }
    // The event's result is one of the protocol's; a reason it does not know means someone else ended it.
    this.finish(TurnResult.safeParse(reason).success ? reason as TurnResult : 'skipped');
    return { machine: this.id, ended: true };
  }

  /**
   * `release {player}` (protocol extension): the player in control lost their
   * connection. Every held direction is released now; the turn and its timers
   * go on, and the player's next `...On` moves the claw again. A call naming
   * someone else (a stale call that crossed a turn change) leaves the current
   * player's lines alone. Pulses are not cut: they are fixed-length and end by
   * themselves.
   */
  releaseControl(raw: unknown): { machine: string; released: boolean } {
    const player = (raw as { player?: unknown } | undefined)?.player;
    if (player !== undefined && typeof player !== 'string') throw new ClawError(ClawErrors.invalidArgument, 'release: player must be a string');
    const turnId = this.turnArg(raw, 'release');
    const turn = this.turn;
    if (turn === undefined || (player !== undefined && player !== turn.player)) return { machine: this.id, released: false };
    if (turnId !== undefined && turn.turnId !== undefined && turnId !== turn.turnId) return { machine: this.id, released: false };
    this.safe.releaseDirections();
    this.hooks.log('info', 'control released (player lost)', { player: turn.player });
    return { machine: this.id, released: true };
  }

  /** A control EVENT: payload args[0], and the router-disclosed publisher authid. */
  command(payload: unknown, publisherAuthid: string | undefined): void {
    const command = parseCommand(payload);
    const verdict = classifyCommand(this.turn, publisherAuthid, command);
    if (verdict !== 'accept') {
      this.stats.ignored[verdict]++;
      this.hooks.log('debug', 'command ignored', { verdict, publisherAuthid: publisherAuthid?.slice(0, 64), command });
      return;
    }
    this.stats.accepted++;
    try {
      const action = actionOf(command!);
      if (action.kind === 'hold') this.safe.hold(action.dir);
      else if (action.kind === 'release') this.safe.release(action.dir);
      else this.drop(this.turn!);
    } catch (e) {
      this.stats.commandErrors++;
      this.hooks.log('error', 'command failed; all outputs released', { command, err: (e as Error).message });
      this.safe.releaseAll();
    }
  }

  private drop(turn: Turn): void {
    if (this.turn !== turn || turn.phase !== 'move') return;
    this.clock.clearTimeout(turn.timer);
    this.enterPhase(turn, 'drop');
    turn.dropAt = this.clock.now();
    // Watched from the drop pulse on: a quick cabinet may deliver before the
    // drop cycle is over.
    this.prize.start(() => { if (this.turn === turn) this.finish('win'); });
    void this.safe.pulse('drop').then((completed) => {
      if (this.turn !== turn) return;
      if (!completed) { this.finish('abandoned'); return; }
      this.enterPhase(turn, 'prize');
      const windowEnd = turn.dropAt! + (this.timings.dropCycleSeconds + this.timings.prizeWindowSeconds) * 1000;
      turn.timer = this.clock.setTimeout(() => { if (this.turn === turn) this.finish('lose'); }, windowEnd - this.clock.now());
    });
  }

  private enterPhase(turn: Turn, phase: TurnPhase): void {
    this.safe.releaseAll();
    turn.phase = phase;
    this.hooks.log('debug', 'turn phase', { phase, player: turn.player });
    this.hooks.phase?.(phase);
  }

  private finish(result: TurnResult): void {
    const turn = this.turn;
    if (turn === undefined) return;
    this.endTurnQuietly(result);
    this.hooks.event({ type: 'turn_ended', ...this.whose(turn), result, at: this.clock.now() });
    this.becomeReadyWhenReleased();
  }

  /** Who an event is about: the name for people, the authid and turn id for the backend to match. */
  private whose(turn: Turn): Pick<EventPayload, 'machine' | 'player' | 'authid' | 'turn'> {
    return { machine: this.id, player: turn.name, authid: turn.player, ...(turn.turnId !== undefined ? { turn: turn.turnId } : {}) };
  }

  /** The optional `turn` argument of end_turn/release. */
  private turnArg(raw: unknown, what: string): number | undefined {
    const turn = (raw as { turn?: unknown } | undefined)?.turn;
    if (turn === undefined) return undefined;
    const r = TurnId.safeParse(turn);
    if (!r.success) throw new ClawError(ClawErrors.invalidArgument, `${what}: turn must be a positive integer`);
    return r.data;
  }

  /** Ends the turn (if any) without announcing it: disarm, timers off. */
  private endTurnQuietly(result: string): void {
    const turn = this.turn;
    this.turn = undefined;
    this.prize.stop();
    if (turn) {
      this.clock.clearTimeout(turn.timer);
      // deadManReleases: holds the player's page stopped refreshing (a slow or lost connection): what monitoring counts.
      this.hooks.log('info', 'turn ended', { player: turn.player, result, deadManReleases: this.safe.deadManReleases - turn.deadManAtStart });
    }
    this.safe.disarm();
    if (turn) this.hooks.phase?.(undefined);
  }

  private becomeReadyWhenReleased(): void {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.safe.disarm()) { this.setState('ready'); return; }
    this.hooks.log('error', 'outputs could not be released; in maintenance until they are');
    this.setState('maintenance');
    this.retryTimer = this.clock.setTimeout(() => this.becomeReadyWhenReleased(), RELEASE_RETRY_MS);
  }

  private setState(state: MachineStatusState): void {
    if (state === this.stateNow && state !== 'controlled') return;
    this.stateNow = state;
    this.sinceNow = this.clock.now();
    this.hooks.status(this.status());
  }
}
