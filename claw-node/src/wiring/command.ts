// `clawgate-claw test`: the wiring check as a command. Claims the lines with
// the consumer label `clawgate-test`, so that it cannot run while the claw
// node is in service (the node holds the lines as `clawgate`; the kernel
// refuses a second request) and the node cannot start while a check runs.
// Scripted (`--script "all"`) or interactive (steps typed line by line).
import { createInterface } from 'node:readline';
import type { ClawNodeConfig } from '../config.js';
import { createDriver, type DriverDeps } from '../gpio/create-driver.js';
import { GpioLineBusyError, GpioUnavailableError, type GpioDriver } from '../gpio/driver.js';
import { CONSUMER } from '../gpio/libgpiod-driver.js';
import { parseSteps, STEPS_HELP, StepError } from './steps.js';
import { WiringTest } from './wiring-test.js';

export const TEST_CONSUMER = 'clawgate-test';

/** Exit codes of `clawgate-claw test`. */
export const TestExit = { ok: 0, stepFailed: 1, usage: 2, gpio: 3, inService: 4, interrupted: 130 } as const;

/** Why the check must not run, from the error of claiming the lines; undefined when it is some other GPIO error. */
export function refusal(e: unknown): string | undefined {
  if (!(e instanceof GpioLineBusyError)) return undefined;
  if (e.holder === CONSUMER) {
    return `refusing to run: the claw node is in service (${e.what}, line ${e.line} on "${e.chip}", is held by "${CONSUMER}"). ` +
      'Take the machine out of service first (on the board: sudo systemctl stop clawgate-claw), then run the check again.';
  }
  if (e.holder === TEST_CONSUMER) return `refusing to run: another wiring check holds the lines (${e.message}).`;
  return undefined;
}

export interface TestCommandOptions {
  script?: string;
  jogMs: number;
  trace: boolean;
}

export interface TestIo {
  out: (line: string) => void;
  err: (line: string) => void;
  input: NodeJS.ReadableStream;
  interactive: boolean;
  /** Process hooks (signals); returns a remover. */
  onInterrupt: (fn: () => void) => () => void;
}

/** Runs the check; resolves to the exit code. */
export async function runTestCommand(config: ClawNodeConfig, opts: TestCommandOptions, io: TestIo, deps: DriverDeps = {}): Promise<number> {
  let driver: GpioDriver;
  try {
    driver = createDriver(config, { ...deps, consumer: TEST_CONSUMER, warn: (m) => io.err(`warning: ${m}`) });
  } catch (e) {
    const why = refusal(e);
    if (why) { io.err(why); return TestExit.inService; }
    if (e instanceof GpioUnavailableError) { io.err(e.message); return TestExit.gpio; }
    throw e;
  }
  const check = new WiringTest(driver, {
    timings: config.timings,
    say: io.out,
    ...(opts.trace ? { trace: (l: string) => io.out(`trace ${l}`) } : {}),
  });
  io.out(`wiring check on machine "${config.machine}", driver ${driver.kind}; every output released. Ctrl-C releases everything and stops.`);
  let interrupted = false;
  const off = io.onInterrupt(() => {
    interrupted = true;
    const released = check.abort();
    io.err(released ? 'interrupted: every output released' : 'interrupted: releasing the outputs failed');
  });
  try {
    if (opts.script !== undefined) {
      let steps;
      try { steps = parseSteps(opts.script, opts.jogMs); } catch (e) {
        if (e instanceof StepError) { io.err(e.message); return TestExit.usage; }
        throw e;
      }
      const ok = await check.run(steps);
      if (interrupted) return TestExit.interrupted;
      io.out(ok ? 'done: every step passed; every output released' : 'stopped: every output released');
      return ok ? TestExit.ok : TestExit.stepFailed;
    }
    return await interactive(check, opts, io, () => interrupted);
  } finally {
    off();
    check.close();
  }
}

async function interactive(check: WiringTest, opts: TestCommandOptions, io: TestIo, interrupted: () => boolean): Promise<number> {
  io.out(`${STEPS_HELP}\n  help | quit`);
  const rl = createInterface({ input: io.input, terminal: io.interactive, ...(io.interactive ? { output: process.stdout, prompt: 'test> ' } : {}) });
  // Ctrl-C in a terminal reaches readline, not the process.
  rl.on('SIGINT', () => { rl.close(); process.kill(process.pid, 'SIGINT'); });
  let failed = false;
  if (io.interactive) rl.prompt();
  for await (const line of rl) {
    if (interrupted()) break;
    const text = line.trim();
    if (text === 'quit' || text === 'exit') break;
    if (text === 'help') io.out(STEPS_HELP);
    else if (text !== '') {
      try {
        if (!await check.run(parseSteps(text, opts.jogMs))) failed = true;
      } catch (e) {
        if (!(e instanceof StepError)) throw e;
        io.err(e.message);
      }
    }
    if (interrupted()) break;
    if (io.interactive) rl.prompt();
  }
  rl.close();
  if (interrupted()) return TestExit.interrupted;
  io.out('bye: every output released');
  return failed ? TestExit.stepFailed : TestExit.ok;
}
