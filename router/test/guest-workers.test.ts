// Guest workers (issue 23) without the CLI: the config (Crossbar's keys and
// meanings, ClawGate's restart and stop_timeout), the restart policy, and the
// supervision of real child processes (restart delays, SIGKILL after the stop
// timeout). The CLI runs one end to end in cli.test.ts.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromCrossbar, ConfigError } from '../src/index.js';
import { findExecutable, guestEnv } from '../src/guest/guest-config.js';
import { GuestWorker, shouldRestart } from '../src/guest/guest-worker.js';
import { silentLogger } from '../src/logger.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-guest-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
fs.mkdirSync(path.join(tmp, 'node'));
fs.writeFileSync(path.join(tmp, 'node', 'run.sh'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
fs.writeFileSync(path.join(tmp, 'node', 'data.txt'), 'not a program\n', { mode: 0o644 });

const node = (...workers: unknown[]) => ({
  version: 2,
  workers: [{ type: 'router', realms: [{ name: 'r', roles: [{ name: 'anonymous', permissions: [] }] }], transports: [] }, ...workers],
});

t.test('config: Crossbar keys, relative workdir, executable lookup', async (t) => {
  const { guests, unsupported } = fromCrossbar(node(
    { type: 'guest', executable: 'node', arguments: ['app.js'], options: { workdir: 'node', env: { inherit: false, vars: { A: '1', N: 2 } }, stdout: 'drop', stdin: { type: 'json', value: { x: 1 } }, watch: { directories: ['.'] } } },
    { type: 'guest', id: 'script', executable: 'run.sh', options: { workdir: 'node', restart: 'always', stop_timeout: 100 } },
  ), { baseDir: tmp });
  t.equal(guests.length, 2);
  const [a, b] = guests as [typeof guests[0], typeof guests[0]];
  t.equal(a.id, 'guest1', 'default id');
  t.equal(a.executable, findExecutable('node', tmp, process.env.PATH), 'a bare name is found on PATH');
  t.ok(path.isAbsolute(a.executable));
  t.equal(a.workdir, path.join(tmp, 'node'), 'workdir relative to the config file\'s folder');
  t.same(a.args, ['app.js']);
  t.same(guestEnv(a, { PATH: '/bin', SECRET: 'x' }), { A: '1', N: '2' }, 'inherit: false and vars');
  t.same(a.stdin, { json: '{"x":1}', close: true }, 'stdin JSON, closed after');
  t.equal(a.stdout, 'drop');
  t.equal(a.stderr, 'log', 'default: log');
  t.equal(a.restart, 'on-failure', 'default restart policy');
  t.equal(b.executable, path.join(tmp, 'node', 'run.sh'), 'a program in the workdir first, as Crossbar');
  t.equal(b.restart, 'always');
  t.equal(b.stopTimeoutMs, 100);
  t.same(unsupported, ['workers[1].options.watch (restarting on file changes is not done)']);
  t.same(guestEnv({ inherit: ['PATH'], vars: {} }, { PATH: '/bin', SECRET: 'x' }), { PATH: '/bin' }, 'inherit: a list of names');

  const err = (w: unknown): string => { try { fromCrossbar(node(w), { baseDir: tmp }); return 'no error'; } catch (e) { return e instanceof ConfigError ? e.message : String(e); } };
  t.match(err({ type: 'guest', executable: 'no-such-program-xyz' }), /^invalid config at workers\[1\]\.executable: "no-such-program-xyz" is neither an executable file in .* nor a program on PATH$/);
  t.match(err({ type: 'guest', executable: 'data.txt', options: { workdir: 'node' } }), /workers\[1\]\.executable: "data\.txt" is neither an executable file/, 'a file that is not executable');
  t.match(err({ type: 'guest', executable: 'node', options: { workdir: 'nowhere' } }), /workers\[1\]\.options\.workdir: .*nowhere is not a directory/);
  t.match(err({ type: 'guest', executable: 'node', options: { stdout: 'file' } }), /workers\[1\]\.options\.stdout: Invalid enum value/);
  t.match(err({ type: 'guest', executable: 'node', options: { restrat: 'always' } }), /workers\[1\]\.options\.restrat: unknown key; did you mean "restart"/);
  t.match(err({ type: 'guest' }), /workers\[1\]\.executable: Required/);
});

t.test('restart policy', async (t) => {
  t.ok(shouldRestart('on-failure', 1, null));
  t.ok(shouldRestart('on-failure', null, 'SIGKILL'));
  t.notOk(shouldRestart('on-failure', 0, null), 'a clean exit is left alone');
  t.ok(shouldRestart('always', 0, null));
  t.notOk(shouldRestart('never', 1, null));
});

const sh = (script: string, extra: Record<string, unknown> = {}) => fromCrossbar(node({ type: 'guest', executable: 'sh', arguments: ['-c', script], options: { workdir: tmp, ...extra } })).guests[0]!;

t.test('supervision: a program that keeps failing is restarted with growing delays', async (t) => {
  const w = new GuestWorker(sh('echo run >> runs.txt; exit 7'), silentLogger(), { backoff: { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 } });
  t.teardown(() => w.stop());
  const file = path.join(tmp, 'runs.txt');
  fs.rmSync(file, { force: true });
  const t0 = Date.now();
  w.start();
  while ((fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0) < 4 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  const elapsed = Date.now() - t0;
  t.ok(w.restarts >= 3, `restarted ${w.restarts} times`);
  t.ok(elapsed >= 100 + 200 + 400, `delays 100, 200, 400 ms at least: ${elapsed} ms for 4 runs`);
  await w.stop();
  const runs = fs.readFileSync(file, 'utf8');
  await new Promise((r) => setTimeout(r, 600));
  t.equal(fs.readFileSync(file, 'utf8'), runs, 'no restart after stop()');
});

t.test('supervision: never, and SIGKILL after the stop timeout', async (t) => {
  const once = new GuestWorker(sh('exit 1', { restart: 'never' }), silentLogger(), { backoff: { initialMs: 10, maxMs: 10, factor: 1, jitter: 0 } });
  once.start();
  await new Promise((r) => setTimeout(r, 500));
  t.equal(once.restarts, 0, 'restart: never');
  t.equal(once.pid, undefined, 'and nothing runs');

  const stubborn = new GuestWorker(sh("trap '' TERM; while true; do sleep 0.05; done", { stop_timeout: 300 }), silentLogger());
  stubborn.start();
  await new Promise((r) => setTimeout(r, 300));
  const pid = stubborn.pid!;
  t.ok(pid > 0, 'running');
  const t0 = Date.now();
  await stubborn.stop();
  const took = Date.now() - t0;
  t.ok(took >= 290, `it ignored SIGTERM, so stop() waited the stop timeout (${took} ms)`);
  t.throws(() => process.kill(pid, 0), 'and the process is gone (SIGKILL)');
});
