// The hostile-client suite's frame: the system started as README says, with
// a GPIO trace; the bounds every attack is held to; the probes that measure
// them WHILE an attack runs; and the normal turn that must complete after it.
//
// Per case: a probe player takes a turn on claw-1 before the attack. While
// the attack runs (one attacker, then several at once):
//   - memory: the system process's VmRSS (/proc/<pid>/status: readable even
//     while its event loop is stalled), every 50 ms;
//   - round trip: the probe player's claw.queue.get, one after the other;
//   - hold release: the probe player publishes one `leftOn` (or `rightOn`)
//     and nothing more; the node's hold timeout must release the line. Both
//     edges are read from the GPIO trace, stamped in the node's thread.
// Afterwards the probe player drops (its turn ends), and a new player plays a
// whole turn on claw-2: join, ready, steer (seen in the trace), drop, result.
import { closeSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Defaults, Procedures, machineUris, type OutputName } from '@clawgate/protocol';
import { launch, tempDir, type Launched } from '../helpers.js';
import { parseGpioTrace, type LineChange } from '../../src/gpio-trace.js';
import { LOCK_FILE } from '../../src/data-lock.js';
import { cpuMs } from '@clawgate/runtime/proc';
import { endpointOf, type Endpoint } from './raw-wamp.js';
import { Player } from './player.js';
import type { Attack, Report, Target } from './attacks.js';

/** What the system must meet while any attack runs (docs/operations.md#the-hostile-client-suite lists them with the per-case bounds). */
export const BOUNDS = {
  /** The system process's resident memory, above its level just before the attack. */
  rssGrowthMiB: 96,
  /** A normal player's claw.queue.get, every one of them. */
  roundTripMs: 1000,
  /** A held direction nobody refreshes: asserted → released at the GPIO, by the node's hold timeout (600 ms) plus this margin for a loaded machine. */
  holdReleaseMs: Defaults.holdTimeoutMs + 400,
} as const;

/** Short turns; every limit and every other setting as shipped. */
export const HOSTILE_OVERRIDES = {
  backend: { defaults: { moveSeconds: 90, readyWindowSeconds: 30, graceSeconds: 60 } },
  claw: {
    timings: { dropCycleSeconds: 1, prizeWindowSeconds: 0.5, coinGapMs: 100 },
    simulator: { speed: 0.8, lowerMs: 150, grabMs: 50, raiseMs: 150, releaseMs: 50 },
  },
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- the system -------------------------------------------------------------

export interface HostileSystem {
  launched: Launched;
  ep: Endpoint;
  dataDir: string;
  /** The process that runs router, backend and the nodes' threads (its pid is in the data folder's lock). */
  pid: number;
  trace: TraceTail;
}

export async function startHostileSystem(t: Test, args: string[] = []): Promise<HostileSystem> {
  const dir = tempDir(t, 'clawgate-hostile-');
  const dataDir = join(dir, 'data');
  const traceFile = join(dir, 'gpio-trace.jsonl');
  // warn: what a deployment logs at (the log amplifier case counts those bytes).
  // V8's young generation capped at Node 20's size: the memory bounds are about what sessions and
  // attacks make the system hold, and Node 22+ lets the young generation alone grow to 3 × 64 MiB
  // (3 × 16 on Node 20) under allocation pressure, whatever is held; on Node 24 the 6a flood once
  // grew 98 MiB against the 96 bound so. Deployments that care set the same flag
  // (docs/operations.md, "Which version").
  const launched = await launch(t, { dataDir, logLevel: 'warn', overrides: HOSTILE_OVERRIDES, args: ['--machines', '2', '--gpio-trace', traceFile, ...args], nodeOptions: ['--max-semi-space-size=16'] });
  const pid = (JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as { pid: number }).pid;
  return { launched, ep: endpointOf(launched.url, launched.wsUrl), dataDir, pid, trace: new TraceTail(traceFile) };
}

/** Reads the GPIO trace as the nodes' threads append to it. */
export class TraceTail {
  readonly changes: LineChange[] = [];
  private offset = 0;
  private partial = '';
  constructor(readonly file: string) {}

  /** Index just past every change written so far. */
  end(): number {
    this.poll();
    return this.changes.length;
  }

  poll(): LineChange[] {
    let fd: number;
    try { fd = openSync(this.file, 'r'); } catch { return []; }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      const text = this.partial + buf.toString('utf8');
      const cut = text.lastIndexOf('\n') + 1;
      this.partial = text.slice(cut);
      const fresh = parseGpioTrace(text.slice(0, cut));
      this.changes.push(...fresh);
      return fresh;
    } finally {
      closeSync(fd);
    }
  }

  /** The first change at or after index `from` that `pred` accepts. */
  async waitFor(pred: (c: LineChange) => boolean, ms: number, what: string, from = 0): Promise<{ index: number; change: LineChange }> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.poll();
      for (let i = from; i < this.changes.length; i++) if (pred(this.changes[i]!)) return { index: i, change: this.changes[i]! };
      if (Date.now() > deadline) throw new Error(`GPIO trace: no ${what} within ${ms} ms`);
      await sleep(10);
    }
  }
}

// ---- probes -----------------------------------------------------------------

export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}


/**
 * A round trip's busy time: its wall time, capped by the CPU time the system process used meanwhile
 * (plus one clock tick). An attack that keeps the system from answering keeps it busy for as long
 * (it decodes, refuses, closes), so that still counts whole; time the system spent waiting for a
 * core other test files held (CI runs four at once on two cores) does not.
 */
function busyMs(wallMs: number, cpuMs: number): number {
  return Number.isFinite(cpuMs) ? Math.min(wallMs, cpuMs + 10) : wallMs;
}

export interface HoldSample { line: OutputName; publishedAt: number; assertedAt: number; releasedAt: number; heldMs: number }

export interface Measured {
  rssBaseMiB: number;
  rssMaxMiB: number;
  rssGrowthMiB: number;
  roundTrips: number[];
  roundTripMaxMs: number;
  /** Calls that failed (an error answer, or none before the end). */
  roundTripErrors: string[];
  holds: HoldSample[];
  holdMaxMs: number;
  /** Hold probes whose command never reached the line while the attack ran. */
  holdsUnseen: number;
  durationMs: number;
}

/** The shortest measurement, however quickly an attack is over. */
const MIN_WINDOW_MS = 2500;

/** Runs `attack` while measuring (at least MIN_WINDOW_MS); the probe player must be in its turn on `machine`. */
export async function measureDuring(sys: HostileSystem, probe: Player, machine: string, attack: () => Promise<void>): Promise<Measured> {
  const rssBase = rssMiB(sys.pid);
  let rssMax = rssBase;
  const mem = setInterval(() => { try { rssMax = Math.max(rssMax, rssMiB(sys.pid)); } catch { /* gone: the probes say so */ } }, 50);
  let running = true;
  const roundTrips: number[] = [];
  const roundTripErrors: string[] = [];
  // One call after the other, ~2 a second: the backend's default rate limit
  // (30 calls per 10 s per player) leaves room for the turn's own calls.
  // A system process already gone counts wall time (NaN caps nothing).
  const cpuOfSystem = (): number => cpuMs(sys.pid);
  const rtt = (async () => {
    while (running) {
      const t0 = performance.now();
      const c0 = cpuOfSystem();
      try {
        await probe.call(Procedures.queueGet, [machine]);
      } catch (e) {
        roundTripErrors.push(String((e as { error?: string }).error ?? e));
      }
      roundTrips.push(busyMs(performance.now() - t0, cpuOfSystem() - c0));
      await sleep(450);
    }
  })();
  const holds: HoldSample[] = [];
  let holdsUnseen = 0;
  const topic = machineUris(machine).control(probe.authid);
  const hold = (async () => {
    for (let i = 0; running; i++) {
      const line: OutputName = i % 2 === 0 ? 'left' : 'right';
      const from = sys.trace.end();
      const publishedAt = Date.now();
      try {
        await probe.publish(topic, { command: `${line}On` });
        // The command may reach the node late (the router stalled); the hold must still be short once asserted.
        const on = await sys.trace.waitFor((c) => c.machine === machine && c.line === line && c.asserted, 30_000, `${line} asserted`, from);
        const off = await sys.trace.waitFor((c) => c.machine === machine && c.line === line && !c.asserted, 30_000, `${line} released`, on.index + 1);
        holds.push({ line, publishedAt, assertedAt: on.change.at, releasedAt: off.change.at, heldMs: off.change.at - on.change.at });
      } catch {
        holdsUnseen++;
      }
      await sleep(300);
    }
  })();
  const t0 = Date.now();
  let durationMs = 0;
  try {
    await attack();
    // A quick attack is still measured over a window long enough for a few round trips and a hold.
    await sleep(t0 + MIN_WINDOW_MS - Date.now());
  } finally {
    durationMs = Date.now() - t0;
    running = false;
    await Promise.all([rtt, hold]);
    clearInterval(mem);
  }
  const rssMaxNow = Math.max(rssMax, safeRss(sys.pid) ?? 0);
  return {
    rssBaseMiB: round(rssBase), rssMaxMiB: round(rssMaxNow), rssGrowthMiB: round(rssMaxNow - rssBase),
    roundTrips, roundTripMaxMs: round(Math.max(0, ...roundTrips)), roundTripErrors,
    holds, holdMaxMs: round(Math.max(0, ...holds.map((h) => h.heldMs))), holdsUnseen,
    durationMs,
  };
}

function safeRss(pid: number): number | undefined { try { return rssMiB(pid); } catch { return undefined; } }
const round = (v: number): number => Math.round(v * 10) / 10;

/** The three common bounds, each stated in the assertion's message; a case may state its own (and says why). */
export function assertBounds(t: Test, m: Measured, own: Partial<Record<keyof typeof BOUNDS, number>> = {}): void {
  const bounds = { ...BOUNDS, ...own };
  t.ok(m.rssGrowthMiB <= bounds.rssGrowthMiB, `memory: the system process grew ${m.rssGrowthMiB} MiB (${m.rssBaseMiB} → ${m.rssMaxMiB}) during the attack; bound ${bounds.rssGrowthMiB} MiB`);
  t.ok(m.roundTrips.length >= 2, `round trips measured during the attack: ${m.roundTrips.length}`);
  t.ok(m.roundTripMaxMs <= bounds.roundTripMs, `a normal player's claw.queue.get took at most ${m.roundTripMaxMs} ms during the attack (${m.roundTrips.length} calls; busy time: wall capped by the system process's CPU); bound ${bounds.roundTripMs} ms`);
  t.same(m.roundTripErrors, [], 'the normal player\'s calls all succeeded');
  t.ok(m.holds.length >= 1, `hold releases measured during the attack: ${m.holds.length} (${m.holdsUnseen} commands never reached the line)`);
  t.ok(m.holdMaxMs <= bounds.holdReleaseMs, `a held direction was released ${m.holdMaxMs} ms after it was asserted at most (GPIO trace, ${m.holds.length} holds); bound ${bounds.holdReleaseMs} ms`);
}

export function describe(m: Measured): string {
  return `rss ${m.rssBaseMiB} → max ${m.rssMaxMiB} MiB (+${m.rssGrowthMiB}); round trip max ${m.roundTripMaxMs} ms over ${m.roundTrips.length} calls; hold release max ${m.holdMaxMs} ms over ${m.holds.length} (${m.holdsUnseen} unseen); ${m.durationMs} ms`;
}

// ---- players and turns --------------------------------------------------------

/**
 * Loopback addresses per case, so that per-address limits of one case (a
 * guest-minting rate, say) never reach the next: case k uses 127.0.k.x.
 *   .2        the single attacker       .3–.5  several attackers at once
 *   .100–     normal players            (all of 127/8 reaches the listener on 127.0.0.1)
 */
export function addresses(caseNo: number): { single: string[]; several: string[]; player: (i: number) => string } {
  const a = (x: number) => `127.0.${caseNo}.${x}`;
  return { single: [a(2)], several: [a(3), a(4), a(5)], player: (i) => a(100 + i) };
}

/** A player in its turn on `machine` (the probe player of a case). */
export async function playerInTurn(sys: HostileSystem, name: string, address: string, machine: string): Promise<Player> {
  const p = await Player.connect(sys.ep, name, address);
  await p.takeTurn(machine);
  return p;
}

export interface TurnReport { result: string; steered: boolean; ms: number }

/**
 * A whole normal turn by a new player: join `machine`, confirm when asked,
 * steer right (the line asserted in the GPIO trace, then released on
 * rightOff), drop, and the result.
 */
export async function normalTurn(sys: HostileSystem, name: string, address: string, machine: string, timeoutMs = 45_000): Promise<TurnReport> {
  const t0 = Date.now();
  const p = await Player.connect(sys.ep, name, address);
  try {
    const topic = await p.takeTurn(machine, timeoutMs);
    const from = sys.trace.end();
    await p.publish(topic, { command: 'rightOn' });
    const on = await sys.trace.waitFor((c) => c.machine === machine && c.line === 'right' && c.asserted, 15_000, 'right asserted', from);
    await p.publish(topic, { command: 'rightOff' });
    await sys.trace.waitFor((c) => c.machine === machine && c.line === 'right' && !c.asserted, 15_000, 'right released', on.index + 1);
    const result = await p.drop(machine, timeoutMs);
    return { result, steered: true, ms: Date.now() - t0 };
  } catch (e) {
    // Not asked in time (or worse): leave, so that this player does not hold up the next case from the queue.
    await p.call(Procedures.leave, [machine]).catch(() => undefined);
    throw e;
  } finally {
    await p.close();
  }
}

/** The probe player's turn ends: drop, the result. */
export async function endTurn(p: Player, machine: string): Promise<string> {
  try {
    return await p.drop(machine);
  } finally {
    await p.close();
  }
}

// ---- one case ------------------------------------------------------------------------

export interface CaseOptions {
  /** Addresses 127.0.<caseNo>.x (see addresses()). */
  caseNo: number;
  attack: Attack;
  /** How long each phase may build up: one attacker, then several at once. */
  phaseMs: [number, number];
  /** Attackers in the second phase (default 3). */
  several?: number;
  /** The machine the attack targets and the normal turn is played on afterwards (default claw-2; the probe player is on claw-1). */
  machine?: string;
  /** While a phase's attack holds what it built. */
  atPeak?: (phase: 1 | 2) => Promise<void>;
  /** Skip the normal turn afterwards (a case that plays its own). */
  noNormalTurn?: boolean;
  /** Start the second phase this many ms after the first, while it still runs (default: after it ended). */
  overlapMs?: number;
  /** Where the normal turn is played afterwards (default: `machine`). */
  turnMachine?: string;
}

export interface CaseResult {
  measured: Measured;
  reports: [Report, Report];
  turn: TurnReport | undefined;
  probeResult: string;
}

/** One attack, one attacker then several, measured; then the probe's turn ends and a normal turn is played. */
export async function runCase(t: Test, sys: HostileSystem, o: CaseOptions): Promise<CaseResult> {
  const a = addresses(o.caseNo);
  const machine = o.machine ?? 'claw-2';
  const target: Target = { ep: sys.ep, dataDir: sys.dataDir, machine };
  const probe = await playerInTurn(sys, `Probe${o.caseNo}`, a.player(0), 'claw-1');
  const reports: Report[] = [];
  const phase = (n: 1 | 2): Promise<Report> => o.attack.run(target, {
    addresses: n === 1 ? a.single : a.several.slice(0, o.several ?? 3),
    until: Date.now() + o.phaseMs[n - 1],
    ...(o.atPeak ? { atPeak: () => o.atPeak!(n) } : {}),
  });
  const measured = await measureDuring(sys, probe, 'claw-1', async () => {
    if (o.overlapMs === undefined) {
      reports.push(await phase(1));
      reports.push(await phase(2));
    } else {
      reports.push(...await Promise.all([phase(1), sleep(o.overlapMs).then(() => phase(2))]));
    }
  });
  t.comment(`${o.attack.name}: ${o.attack.summary}`);
  t.comment(`  one attacker:      ${JSON.stringify(reports[0])}`);
  t.comment(`  several attackers: ${JSON.stringify(reports[1])}`);
  t.comment(`  measured: ${describe(measured)}`);
  const [probeResult, turn] = await Promise.all([
    endTurn(probe, 'claw-1'),
    o.noNormalTurn ? Promise.resolve(undefined) : normalTurn(sys, `Normal${o.caseNo}`, a.player(1), o.turnMachine ?? machine),
  ]);
  return { measured, reports: reports as [Report, Report], turn, probeResult };
}

/** The turn after the attack ended with a result from the machine. */
export function assertTurn(t: Test, r: CaseResult): void {
  t.ok(['win', 'lose'].includes(r.probeResult), `the probe player's turn (steered during the attack) ended with a result: ${r.probeResult}`);
  if (r.turn) t.ok(r.turn.steered && ['win', 'lose'].includes(r.turn.result), `after the attack a new player joined, confirmed, steered, dropped and got a result (${r.turn.result}, ${r.turn.ms} ms)`);
}
