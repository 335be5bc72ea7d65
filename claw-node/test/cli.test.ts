// `clawgate-claw` as a process: key commands, start errors with exit codes,
// and SIGTERM releasing the lines and publishing offline before it exits.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LinesPayload, StatusPayload, machineUris } from '@clawgate/protocol';
import { connect, eventually, fastNodeConfig, player, startRouter } from './helpers.js';

const bin = fileURLToPath(new URL('../bin/clawgate-claw.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'claw-cli-'));

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function cli(args: string[], opts: { onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import=tsx', '--conditions=@clawgate/source', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })); // 'close': all of its output read
    opts.onStart?.(child);
  });
}

t.test('keygen and pubkey', async (t) => {
  const key = join(dir, 'claw9.key');
  const made = await cli(['keygen', '--out', key, '--machine', 'claw9']);
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /^[0-9a-f]{64}\n$/);
  t.match(made.stderr, /cryptosign principal "claw9"/);
  t.match(readFileSync(key, 'utf8'), /^# clawgate claw node claw9/);
  const shown = await cli(['pubkey', '--key', key]);
  t.equal(shown.stdout, made.stdout, 'pubkey prints the same public key');
});

t.test('start errors: no config, a bad key in the config, no GPIO chip', async (t) => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'router:\n  url: ws://127.0.0.1:1/claw\n  auth: anonymous\nmachine: m1\ndriver: simulated\ntimings:\n  dropPulseMs: 0\n');
  const gpio = join(dir, 'gpio.json');
  const line = (n: number) => ({ chip: 'gpiochip0', line: n, activeLow: true });
  writeFileSync(gpio, JSON.stringify({
    router: { url: 'ws://127.0.0.1:1/claw', auth: 'anonymous' }, machine: 'm1', driver: 'libgpiod',
    wiring: { outputs: { up: line(17), down: line(27), left: line(22), right: line(23), drop: line(24), coin: line(25) }, inputs: { prize: { ...line(5), bias: 'pull-up' } } },
  }));
  // independent processes: run them side by side (each spends most of its time compiling TypeScript)
  const [none, r1, r2] = await Promise.all([cli([]), cli(['--config', bad]), cli(['--config', gpio])]);
  t.equal(none.code, 2);
  t.match(none.stderr, /--config <file> is required/);
  t.equal(r1.code, 2);
  t.match(r1.stderr, /timings\.dropPulseMs: Number must be greater than 0/);
  t.equal(r2.code, 3);
  t.match(r2.stderr, /gpiochip0|node-libgpiod could not be loaded/, 'names the chip (or the missing module)');
});

t.test('SIGTERM mid-hold: lines released and offline published before exit', async (t) => {
  const r = await startRouter();
  t.teardown(() => r.stop());
  const config = join(dir, 'node.json');
  writeFileSync(config, JSON.stringify(fastNodeConfig(r.port, 'cli1', { logLevel: 'warn' })));
  const be = await connect(r.port, 'backend');
  t.teardown(() => be.connection.close());
  const uris = machineUris('cli1');
  const statuses: StatusPayload[] = [];
  const lines: LinesPayload[] = [];
  await be.session.subscribe(uris.status, (a) => { statuses.push(StatusPayload.parse(a?.[0])); });
  await be.session.subscribe(uris.lines, (a) => { lines.push(LinesPayload.parse(a?.[0])); });

  let child!: ReturnType<typeof spawn>;
  const exited = cli(['--config', config], { onStart: (c) => { child = c; } });
  await eventually(() => statuses.at(-1)?.state === 'ready', 'CLI node ready', 30_000);
  await be.session.call(uris.startTurn, [{ player: 'gus', moveSeconds: 60 }]);
  const gus = await player(r.port, 'gus');
  t.teardown(() => gus.close());
  await gus.publish(uris.control('gus'), [{ command: 'upOn' }]);
  await eventually(() => lines.at(-1)?.outputs.up, 'up held');
  child.kill('SIGTERM');
  const run = await exited;
  t.equal(run.code, 0, `clean exit (stderr: ${run.stderr.slice(0, 500)})`);
  t.notOk(lines.at(-1)!.outputs.up, 'the last lines published show up released');
  t.ok(Object.values(lines.at(-1)!.outputs).every((v) => !v), 'everything released');
  t.equal(statuses.at(-1)?.state, 'offline');
});
