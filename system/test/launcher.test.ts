// The launcher as README says to run it: `node system/bin/clawgate.js`.
// Starts on a free port, prints the URL, serves the page, the session API and
// WAMP on that one origin, stops cleanly on SIGINT (exit 0), and reuses its
// data directory (secrets, keys, SQLite) at the next start.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { BIN, ROOT, eventually, launch, spectate, tempDir } from './helpers.js';
import { mergeDeep } from '../src/overrides.js';
import { connectHost } from '../src/system.js';
import { LOCK_FILE, staleReason } from '../src/data-lock.js';
import { readGpioTrace } from '../src/gpio-trace.js';
import { Player } from './hostile/player.js';
import { endpointOf } from './hostile/raw-wamp.js';

const lockOwner = (data: string) => JSON.parse(readFileSync(join(data, LOCK_FILE), 'utf8')) as { pid: number; startTime?: number; host: string };

t.setTimeout(300_000);

t.test('start, serve one origin, SIGINT, restart on the same data', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const first = await launch(t, { dataDir: data, args: ['--machines', '2'], logLevel: 'warn' });
  t.match(first.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'prints the page URL');
  t.match(first.stdout(), /machines\s+claw-1, claw-2 \(simulated\)/, '--machines 2 starts two claws');
  t.match(first.stdout(), /development secrets created/, 'first start creates secrets');

  const page = await fetch(first.url);
  t.equal(page.status, 200, 'GET / serves the player page');
  t.match(await page.text(), /<script defer src="\/assets\/player\.js">/);
  t.equal((await fetch(`${first.url}operator`)).status, 200, 'GET /operator serves the dashboard');
  t.equal((await fetch(`${first.url}assets/player.js`)).status, 200, 'the bundle is served');
  const health = await (await fetch(`${first.url}health`)).json() as { status: string; realms: string[] };
  t.same([health.status, health.realms], ['ok', ['claw']], 'router health on the same port');

  const login = await fetch(`${first.url}api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ann' }) });
  t.equal(login.status, 200, 'POST /api/session on the same origin');
  const { authid } = await login.json() as { authid: string };
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const bad = await fetch(`${first.url}api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: '' }) });
  t.equal(bad.status, 400, 'a bad name is a 400, not a crash');

  // Both simulated machines are up and publish their status on the realm.
  const spectator = await spectate(t, first.wsUrl, 'claw-2');
  const list = await spectator.session.call('claw.machines.list') as { machine: string; state: string }[];
  t.same(list.map((m) => m.machine), ['claw-1', 'claw-2'], 'the backend knows both machines');
  await spectator.close();

  const code = await first.interrupt();
  t.equal(code, 0, 'SIGINT: exit code 0');
  // Log lines (JSON) may interleave with what the launcher itself prints.
  const said = first.stdout().split('\n').filter((l) => !l.startsWith('{')).join('\n');
  t.match(said, /SIGINT: stopping…\n[\s\S]*stopped\n$/, 'says it stopped');
  t.notMatch(first.stderr(), /Error|uncaught|took too long/i, 'no errors while stopping');

  const secrets = readFileSync(join(data, 'secrets.json'), 'utf8');
  t.ok(existsSync(join(data, 'clawgate.sqlite')), 'SQLite database in the data dir');
  t.ok(existsSync(join(data, 'keys', 'claw-1.key')), 'machine keys in the data dir');
  t.equal(readFileSync(join(data, '.gitignore'), 'utf8').trim().split('\n').at(-1), '*', 'the data dir ignores itself in git');

  const second = await launch(t, { dataDir: data, args: ['--machines', '2'], logLevel: 'warn' });
  t.notMatch(second.stdout(), /development secrets created/, 'second start reuses the secrets');
  t.equal(readFileSync(join(data, 'secrets.json'), 'utf8'), secrets, 'secrets file unchanged');
  t.equal(second.operatorSecret, first.operatorSecret, 'same operator secret');
  // The same cookie (signed with the reused secret) still names the same player.
  const again = await fetch(`${second.url}api/session`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ name: 'Ann' }) });
  t.equal((await again.json() as { authid: string }).authid, authid, 'a returning player keeps their identity across restarts');
  t.equal(await second.interrupt(), 0, 'second stop: exit 0');
});

t.test('SIGTERM also stops cleanly', async (t) => {
  const dir = tempDir(t);
  const sys = await launch(t, { dataDir: join(dir, 'data'), logLevel: 'warn' });
  process.kill(sys.proc.pid!, 'SIGTERM'); // only the launcher itself, as systemd or a container runtime would
  t.equal(await sys.exited, 0, 'exit 0');
  t.match(sys.stdout(), /stopped\n/);
});

t.test('bad command lines exit 2 with a message', async (t) => {
  for (const [args, message] of [
    [['--machines', '0'], /--machines.*whole number from 1 to 50/],
    [['--port', 'x'], /port number/],
    [['--overrides', '/nonexistent/overrides.json'], /--overrides \/nonexistent\/overrides\.json/],
  ] as const) {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, message, `${args.join(' ')}: says why`);
  }
});

t.test('a config error in the overrides names the key and exits 1', async (t) => {
  const dir = tempDir(t);
  const sys = launch(t, { dataDir: join(dir, 'data'), logLevel: 'warn', overrides: { backend: { defaults: { moveSeconds: -1 } } } });
  await t.rejects(sys, /launcher exited early:[\s\S]*cannot start:.*defaults\.moveSeconds/, 'names defaults.moveSeconds');
});

t.test('a claw node config error in the overrides names the key and exits 1', async (t) => {
  const dir = tempDir(t);
  const sys = launch(t, { dataDir: join(dir, 'data'), logLevel: 'warn', overrides: { claw: { timings: { holdTimeoutMs: -1 } } } });
  // The node's config is validated in its own thread; the error crosses back with its key path.
  await t.rejects(sys, /launcher exited early:[\s\S]*cannot start:.*timings\.holdTimeoutMs/, 'names timings.holdTimeoutMs');
});

t.test('one running system per data folder; a stale lock does not block a restart', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const first = await launch(t, { dataDir: data, logLevel: 'warn' });
  const owner = lockOwner(data);
  t.match(readFileSync(`/proc/${owner.pid}/cmdline`, 'utf8'), /clawgate\.js/, `the lock names the running system (pid ${owner.pid})`);
  t.equal(staleReason(owner as never), undefined, 'and it is not stale');

  const second = spawnSync(process.execPath, [BIN, '--port', '0', '--data', data, '--log-level', 'warn'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, PORT: '' } });
  t.equal(second.status, 1, 'a second start on the same folder exits 1');
  t.match(second.stderr, new RegExp(`cannot start: the data folder .* is in use by another running ClawGate: process ${owner.pid} `), 'names the other process');
  t.match(second.stderr, new RegExp(`ps -p ${owner.pid} `), 'says how to check whether it still runs');
  t.match(second.stderr, new RegExp(`delete .*${LOCK_FILE.replace('.', '\\.')}`), 'and which file to delete if it does not');
  t.equal((await fetch(`${first.url}health`)).status, 200, 'the first system is unharmed');

  // kill -9: no chance to clean up, the lock stays behind.
  process.kill(-first.proc.pid!, 'SIGKILL');
  await first.exited;
  t.ok(existsSync(join(data, LOCK_FILE)), 'kill -9 leaves the lock file behind');
  t.match(await eventually(() => staleReason(lockOwner(data) as never), 10_000, 'the lock to be stale'), /is gone|another process/, 'a stale lock');
  const third = await launch(t, { dataDir: data, logLevel: 'warn' });
  t.match(third.stdout(), /ClawGate is running/, 'the next start takes over the stale lock');
  t.not(lockOwner(data).pid, owner.pid, 'the lock names the new system');
  t.equal(await third.interrupt(), 0, 'stops cleanly');
  t.notOk(existsSync(join(data, LOCK_FILE)), 'a clean stop removes the lock');
});

t.test('staleness: gone, recycled pid, other host', async (t) => {
  const me = { pid: process.pid, host: 'h', startedAt: 'x', command: 'x' };
  const probe = (alive: boolean, startTime?: number) => ({ host: 'h', alive: () => alive, startTime: () => startTime });
  t.match(staleReason(me, probe(false)), /is gone/);
  t.equal(staleReason({ ...me, startTime: 5 }, probe(true, 5)), undefined, 'same process: held');
  t.match(staleReason({ ...me, startTime: 5 }, probe(true, 9)), /another process/, 'pid recycled');
  t.equal(staleReason({ ...me, host: 'other' }, probe(false)), undefined, 'another host: cannot tell, treated as held');
});

t.test('--gpio-trace: line changes stamped in the claw node\'s thread', async (t) => {
  const dir = tempDir(t);
  const trace = join(dir, 'trace.jsonl');
  const sys = await launch(t, { dataDir: join(dir, 'data'), logLevel: 'warn', args: ['--gpio-trace', trace] });
  const p = await Player.connect(endpointOf(sys.url, sys.wsUrl), 'Tracer', '127.0.0.1');
  t.teardown(() => p.close());
  const topic = await p.takeTurn('claw-1');
  const before = Date.now();
  await p.publish(topic, { command: 'leftOn' }); // and nothing more: the node's hold timeout releases it
  const left = await eventually(() => {
    const l = readGpioTrace(trace).filter((c) => c.line === 'left');
    return l.length >= 2 ? l : undefined;
  }, 15_000, 'left asserted and released in the trace');
  t.same(left.map((c) => [c.machine, c.asserted]), [['claw-1', true], ['claw-1', false]], 'claw-1: left asserted, then released');
  t.ok(left[0]!.at >= before - 5 && left[0]!.at <= Date.now(), 'epoch ms on this host\'s clock');
  t.not(Math.round(left[0]!.at), left[0]!.at, 'with sub-millisecond digits');
  const held = left[1]!.at - left[0]!.at;
  t.ok(held >= 550 && held < 1500, `released by the hold timeout after ${held.toFixed(1)} ms (600 ms)`);
  t.ok(readGpioTrace(trace).some((c) => c.line === 'coin'), 'the coin pulse at the start of the turn is there too');
  t.equal(await sys.interrupt(), 0);
});

t.test('overrides merge; connect host', async (t) => {
  t.same(mergeDeep({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2], e: 'x' }), { a: { b: 1, c: 3 }, d: [2], e: 'x' });
  t.equal(connectHost('0.0.0.0'), '127.0.0.1');
  t.equal(connectHost('::'), '[::1]');
  t.equal(connectHost('127.0.0.1'), '127.0.0.1');
  t.equal(connectHost('fd00::1'), '[fd00::1]');
});
