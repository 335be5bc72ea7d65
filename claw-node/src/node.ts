// A claw node: GPIO driver (+ simulated machine), the safety layer, the turn
// logic, and the WAMP link that exposes them on the router. Embeddable:
// `const node = await startClawNode(config); ... await node.stop()`.
import { MAX_PRIZES, VideoProcedures, VideoSource, cameraTopic, type CameraStatus, machineReleaseUri, machineUris, type EventPayload, type LinesPayload, type StatusPayload } from '@clawgate/protocol';
import { WampLink, autobahn, type AutobahnSession, type HelloAuth } from '@clawgate/runtime';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { parseConfig, type ClawNodeConfig, type ClawNodeConfigInput } from './config.js';
import { createDriver } from './gpio/create-driver.js';
import type { GpioDriver } from './gpio/driver.js';
import type { CdevSyscalls } from './gpio/cdev-syscalls.js';
import type { LibgpiodModule } from './gpio/libgpiod-driver.js';
import { SimulatedDriver } from './gpio/simulated-driver.js';
import { createLogger, preview, type Logger } from './logger.js';
import { ClawError } from './machine/claw-error.js';
import { ClawMachine, type MachineStats } from './machine/claw-machine.js';
import { DropLedger, screenControl, type DropReason } from './machine/control-guard.js';
import { SafeOutputs } from './safety/safe-outputs.js';
import { SimulatedMachine } from './sim/simulated-machine.js';
import { keyFileTooOpen, readKeyFile } from './wamp/cryptosign.js';
import { CameraSupervisor } from './camera/camera-supervisor.js';

/** After a reconnect, when the status is published again: past a router cluster's loss window (2.75 s; see onOpen). */
const STATUS_REPUBLISH_MS = 3500;

export interface ClawNodeOptions {
  logger?: Logger;
  clock?: Clock;
  /** Use this driver (lines already claimed) instead of the config's. */
  driver?: GpioDriver;
  /** node-libgpiod replacement (tests). */
  libgpiod?: LibgpiodModule;
  /** System calls for the gpio-cdev driver (tests). */
  cdev?: CdevSyscalls;
  /** Called with each published status (after it is sent), e.g. for systemd's STATUS=. */
  onStatus?: (s: StatusPayload) => void;
}

export interface ClawNode {
  readonly id: string;
  readonly config: ClawNodeConfig;
  readonly machine: ClawMachine;
  readonly outputs: SafeOutputs;
  readonly driver: GpioDriver;
  /** The simulated cabinet, with driver `simulated`. */
  readonly simulator: SimulatedMachine | undefined;
  /** True while a router session is open. */
  readonly connected: boolean;
  lines(): LinesPayload;
  /** Turn and command counters; `dropped`: control messages the guard dropped before parsing. */
  stats(): MachineStats & { deadManReleases: number; dropped: Record<DropReason, number> };
  /** The camera's state (undefined without a `camera` config). */
  camera(): CameraStatus | undefined;
  /** The camera pipeline's process id while it runs (tests, diagnostics). */
  readonly cameraPid: number | undefined;
  /** Synchronous last-resort release (uncaught errors); true when all outputs are known released. */
  releaseNow(): boolean;
  /** Releases everything, publishes `offline`, leaves the router, frees the lines. */
  stop(): Promise<void>;
}

export async function startClawNode(input: ClawNodeConfigInput | ClawNodeConfig, options: ClawNodeOptions = {}): Promise<ClawNode> {
  const config = parseConfig(input);
  const log = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const id = config.machine;
  const uris = machineUris(id);
  const logAt = (level: 'info' | 'warn' | 'error' | 'debug', msg: string, extra: Record<string, unknown> = {}) => log[level]({ machine: id, ...extra }, msg);

  const auth: HelloAuth = config.router.auth === 'cryptosign'
    ? { method: 'cryptosign', authid: id, key: readKeyFile(config.key!) }
    : { method: 'anonymous' };
  if (config.router.auth === 'cryptosign' && keyFileTooOpen(config.key!)) logAt('warn', 'key file is readable by group/others; chmod 600 it', { key: config.key });

  // Boot: lines are claimed released (driver), and released once more here.
  const driver = options.driver ?? createDriver(config, {
    ...(options.libgpiod ? { libgpiod: options.libgpiod } : {}),
    ...(options.cdev ? { cdev: options.cdev } : {}),
    warn: (msg) => logAt('warn', msg),
  });
  const safe = new SafeOutputs(driver, clock, config.timings, (e) => logAt('error', 'GPIO write failed', { err: e.message }));
  safe.releaseAll();

  const simulator = driver instanceof SimulatedDriver ? new SimulatedMachine(driver, clock, config.simulator) : undefined;
  simulator?.start();

  const pending = new Set<Promise<unknown>>();
  let session: AutobahnSession | undefined;
  const publish = (topic: string, payload: unknown, retain: boolean) => {
    const s = session;
    if (s === undefined || !s.isOpen) return;
    try {
      const p = s.publish(topic, [payload], {}, { acknowledge: true, retain });
      if (p) {
        const tracked = Promise.resolve(p).catch((e: unknown) => logAt('warn', 'publish failed', { topic, err: preview((e as { error?: string }).error ?? e) }));
        pending.add(tracked);
        void tracked.finally(() => pending.delete(tracked));
      }
    } catch (e) {
      logAt('warn', 'publish failed', { topic, err: (e as Error).message });
    }
  };

  const readPrize = (): boolean => { try { return driver.read('prize'); } catch { return false; } };
  // `machine` is created below; until then no turn runs.
  let turnPhase = (): LinesPayload['turnPhase'] => undefined;
  /** The lines payload; `withPrizes`: also where the simulated prizes lie (left out of the frequent motion updates). */
  const lines = (withPrizes = true): LinesPayload => {
    const payload: LinesPayload = { outputs: safe.levels(), inputs: { prize: readPrize() } };
    const phase = turnPhase();
    if (phase !== undefined) payload.turnPhase = phase;
    if (simulator) {
      const s = simulator.snapshot();
      payload.claw = { x: round(s.x), y: round(s.y), z: round(s.z), holding: s.holding, phase: s.phase };
      if (withPrizes) payload.prizes = simulator.prizes().slice(0, MAX_PRIZES).map((p) => ({ x: round(p.x), y: round(p.y) }));
    }
    return payload;
  };

  // Level changes go out at once; the simulated claw's motion at most every linesIntervalMs. The
  // prizes go with every message but the motion updates (and with those too when they changed), so
  // the retained message at rest always has them and a moving claw costs no more than before.
  let lastLinesAt = -Infinity;
  let trailing: TimerHandle | undefined;
  /** After a motion update, once the claw rests, one message with the prizes (the retained one must have them). */
  let settle: TimerHandle | undefined;
  let prizesSent = -1;
  const publishLines = (withPrizes = true) => {
    lastLinesAt = clock.now();
    const payload = lines(withPrizes || (simulator !== undefined && simulator.snapshot().prizesVersion !== prizesSent));
    if (simulator && payload.prizes) {
      prizesSent = simulator.snapshot().prizesVersion;
      // This message has the latest position too: a pending motion update would only replace it without the prizes.
      clock.clearTimeout(trailing);
      clock.clearTimeout(settle);
      trailing = undefined;
      settle = undefined;
    } else if (simulator) {
      clock.clearTimeout(settle);
      settle = clock.setTimeout(() => { settle = undefined; publishLines(); }, 2 * config.linesIntervalMs);
    }
    publish(uris.lines, payload, true);
  };
  const publishLinesSoon = () => {
    const wait = lastLinesAt + config.linesIntervalMs - clock.now();
    if (wait <= 0) { publishLines(false); return; }
    if (trailing === undefined) trailing = clock.setTimeout(() => { trailing = undefined; publishLines(false); }, wait);
  };
  const unwatchOutputs = safe.onChange(() => publishLines());
  const unwatchPrize = driver.watch('prize', () => publishLines());
  // Position alone: throttled; anything else the claw does (a phase, a catch, new prizes): at once.
  let lastSim = simulator?.snapshot();
  const unwatchSim = simulator?.onChange((s) => {
    const moved = lastSim !== undefined && s.phase === lastSim.phase && s.holding === lastSim.holding && s.prizesVersion === lastSim.prizesVersion;
    lastSim = s;
    if (moved) publishLinesSoon(); else publishLines();
  });

  // The camera: a child process of its own; its reports go out on claw.machine.<id>.camera (retained).
  const camera = config.camera && new CameraSupervisor(config.camera, {
    ...(simulator ? { scene: () => { const s = simulator.snapshot(); return { claw: s, prizes: simulator.prizes() }; } } : {}),
    onStatus: (s) => publish(cameraTopic(id), s, true),
    log: (level, msg, extra) => logAt(level, msg, extra),
  });
  let sourceTimer: NodeJS.Timeout | undefined;
  /** Asks the video service where to send (again every refreshSeconds; sooner after a refusal). */
  const askSource = (s: AutobahnSession): void => {
    if (!camera || !config.camera) return;
    clearTimeout(sourceTimer);
    const again = (seconds: number) => { sourceTimer = setTimeout(() => { if (session === s && s.isOpen) askSource(s); }, seconds * 1000); sourceTimer.unref(); };
    // The port the camera sends to now: a restarted video service gives it back rather than to another machine.
    const port = camera.status().port;
    Promise.resolve(s.call(VideoProcedures.source, [port !== undefined ? { port } : {}])).then((r) => {
      const src = VideoSource.safeParse(r);
      if (!src.success || src.data.machine !== id) { logAt('warn', 'the video service gave no usable camera target', { answer: preview(r) }); again(config.camera!.refreshSeconds); return; }
      camera.setTarget(src.data);
      again(config.camera!.refreshSeconds);
    }, (e: unknown) => {
      logAt('debug', 'no camera target yet', { err: preview((e as { error?: string }).error ?? e) });
      again(Math.min(2, config.camera!.refreshSeconds));
    });
  };

  const drops = new DropLedger((msg, extra) => logAt('warn', msg, extra));
  let lastStatus: StatusPayload | undefined;
  // After a reconnect the status is published once more, later: on a router cluster the node we
  // lost may be declared gone only after we are back on another node (up to 2.75 s), and the other
  // nodes then publish our previous session's `offline` testament after our `ready`. The router
  // keeps the right retained event (docs/cluster.md, "Sessions") and the backend drops the stale
  // testament, but a page or dashboard watching live would show the machine offline until its
  // next change: this re-publication of the same status (same `since`) supersedes it.
  let opens = 0;
  let republish: TimerHandle | undefined;

  const machine = new ClawMachine(id, safe, driver, clock, config.timings, {
    status: (s) => { lastStatus = s; publish(uris.status, s, true); options.onStatus?.(s); },
    event: (e: EventPayload) => publish(uris.events, e, false),
    // The turn's phase shows on the lines topic (a page reloaded mid-drop sees the drop).
    phase: () => publishLines(),
    log: logAt,
  });
  turnPhase = () => machine.turnPhase;

  const procedure = (fn: (arg: unknown) => unknown) => async (args: unknown[] | undefined) => {
    try {
      return await fn(args?.[0]);
    } catch (e) {
      if (e instanceof ClawError) throw new autobahn.Error(e.uri, [e.message]);
      logAt('error', 'procedure failed; all outputs released', { err: (e as Error).message });
      safe.releaseAll();
      throw new autobahn.Error('wamp.error.runtime_error', [(e as Error).message]);
    }
  };

  let stopped = false;

  const link = new WampLink({
    url: config.router.url,
    realm: config.router.realm,
    auth,
    backoff: { initialMs: config.reconnect.initialDelayMs, maxMs: config.reconnect.maxDelayMs, factor: config.reconnect.factor, jitter: 0.2 },
    maxMessageBytes: config.router.maxMessageBytes,
    maxMessageBytesKey: 'router.maxMessageBytes',
    name: 'claw node',
    log: logAt,
    onOpen: async (s) => {
      session = s;
      try {
        await s.call('wamp.session.add_testament', [uris.status, [{ state: 'offline', since: clock.now() }], {}], { publish_options: { retain: true }, scope: 'destroyed' });
      } catch (e) {
        logAt('warn', 'could not set the offline testament', { err: preview((e as { error?: string }).error ?? e) });
      }
      // force_reregister (Crossbar): after a half-dead connection the router may still hold our
      // old session's registrations; where it is not supported the attempt fails and is retried.
      await s.register(uris.startTurn, procedure((a) => machine.startTurn(a)), { force_reregister: true });
      await s.register(uris.endTurn, procedure((a) => machine.endTurn(a)), { force_reregister: true });
      await s.register(machineReleaseUri(id), procedure((a) => machine.releaseControl(a)), { force_reregister: true });
      // Every control EVENT passes the cheap guard first: what no page would send never reaches zod or the machine.
      await s.subscribe(uris.controlPrefix, (args, kwargs, details) => {
        const verdict = screenControl(args, kwargs);
        if (verdict !== 'ok') { drops.drop(verdict, publisherOf(details)); return; }
        machine.command(args![0], details?.publisher_authid);
      }, { match: 'prefix' });
      machine.connected();
      publishLines();
      if (++opens > 1) {
        clock.clearTimeout(republish);
        republish = clock.setTimeout(() => {
          republish = undefined;
          if (session === s && lastStatus !== undefined) publish(uris.status, lastStatus, true);
        }, STATUS_REPUBLISH_MS);
      }
      if (camera) { publish(cameraTopic(id), camera.status(), true); askSource(s); }
    },
    onClose: (reason, message) => {
      session = undefined;
      clock.clearTimeout(republish);
      // Our own stop() ends the session too: that is no incident.
      if (stopped) logAt('info', 'left the router; all outputs released', { reason: preview(reason), message: preview(message) });
      else logAt('warn', 'router session lost; all outputs released', { reason: preview(reason), message: preview(message) });
      machine.disconnected();
    },
  });
  link.start();

  return {
    id, config, machine, driver, simulator,
    outputs: safe,
    get connected() { return link.session !== undefined; },
    lines,
    stats: () => ({ ...machine.stats, ignored: { ...machine.stats.ignored }, deadManReleases: safe.deadManReleases, dropped: { ...drops.dropped } }),
    camera: () => camera?.status(),
    get cameraPid() { return camera?.pid; },
    releaseNow: () => safe.disarm(),
    async stop() {
      if (stopped) return;
      stopped = true;
      machine.shutdown();
      publishLines();
      clock.clearTimeout(trailing);
      clock.clearTimeout(settle);
      await settleWithin([...pending], 1000);
      // Our own `offline` (reason `stopped`) stays the retained status: the testament, meant for a
      // lost session, would replace it with one that looks like a crash.
      const s = session;
      if (s?.isOpen) {
        const flushed = Promise.resolve(s.call('wamp.session.flush_testaments', [], { scope: 'destroyed' }))
          .catch((e: unknown) => logAt('debug', 'could not flush the offline testament', { err: preview((e as { error?: string }).error ?? e) }));
        await settleWithin([flushed], 1000);
      }
      clearTimeout(sourceTimer);
      await camera?.stop();
      await link.stop();
      session = undefined;
      unwatchOutputs();
      unwatchPrize();
      unwatchSim?.();
      simulator?.stop();
      try { driver.close(); } catch (e) { logAt('error', 'closing GPIO failed', { err: (e as Error).message }); }
    },
  };
}

function round(v: number): number { return Math.round(v * 1000) / 1000; }

/** Who published a control EVENT, for the drop log: the disclosed authid, else the session id (bounded either way). */
function publisherOf(details: { publisher?: number; publisher_authid?: string } | undefined): string {
  const authid = details?.publisher_authid;
  if (typeof authid === 'string') return authid.slice(0, 64);
  return typeof details?.publisher === 'number' ? `session ${details.publisher}` : 'undisclosed';
}

async function settleWithin(ps: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled(ps), new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}
