// The CLI as an operator runs it: `node router/bin/clawgate-router.js
// [--config FILE]` in a child process, with real ports, real clients and
// real signals.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, freePort, within } from './helpers.js';

// Each test spawns its own router process on its own ports: run them side by
// side (loading the CLI dominates the time of each).
t.jobs = 5;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'router', 'bin', 'clawgate-router.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-cli-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
function write(name: string, content: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

interface LogLine { level?: number; msg?: string; [k: string]: unknown }

class RouterProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: (() => void)[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, CLAWGATE_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; this.wake(); });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; this.wake(); });
    // 'close', not 'exit': the child's last stderr can still be unread when it exits.
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => { resolve({ code, signal }); this.wake(); }));
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** stdout parsed as pino JSON lines (non-JSON lines are kept as {raw}). */
  get logs(): LogLine[] {
    return this.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => {
      try { return JSON.parse(l) as LogLine; } catch { return { raw: l }; }
    });
  }

  async waitFor<T>(fn: () => T | undefined | false, what: string, timeoutMs = 30000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`${what}: not seen (exit ${this.child.exitCode}); stdout=${this.stdout.slice(-2000)} stderr=${this.stderr.slice(-2000)}`);
      }
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  started(): Promise<LogLine> {
    return this.waitFor(() => this.logs.find((l) => l.msg === 'router started'), 'router started');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function run(t: { teardown(fn: () => unknown): void }, args: string[], env?: Record<string, string>): RouterProcess {
  const p = new RouterProcess(args, env);
  t.teardown(() => p.kill());
  return p;
}

const allowAll = { call: true, register: true, publish: true, subscribe: true };

function twoListenerConfig(port: number, port2: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll }] }] }],
      transports: [
        {
          type: 'universal', id: 'main',
          endpoint: { type: 'tcp', port, interface: '127.0.0.1' },
          rawsocket: {},
          websocket: { ws: { type: 'websocket' } },
          web: { paths: {} },
        },
        { type: 'websocket', id: 'second', endpoint: { type: 'tcp', port: port2, interface: '127.0.0.1' } },
      ],
    }],
    ...extra,
  };
}

t.test('starts from a config file, warns once about unsupported keys, serves health, WebSocket and RawSocket, stops on SIGTERM', async (t) => {
  const [port, port2] = [await freePort(), await freePort()];
  // a second listener of type websocket (any path), plus keys this router does not act on
  const cfg = twoListenerConfig(port, port2, { controller: { id: 'node1' } }) as { workers: Record<string, unknown>[] };
  const universal = (cfg.workers[0]!.transports as Record<string, unknown>[])[0]!;
  universal.web = { paths: { '/': { type: 'static', directory: '.' }, old: { type: 'wsgi', module: 'app' } } };
  universal.websocket = {
    ws: { type: 'websocket' },
    auth_ws: { type: 'websocket', auth: { scram: { type: 'static', principals: {} }, anonymous: { type: 'static', role: 'anonymous' } } },
  };
  cfg.workers.push({ type: 'container', components: [] });
  const file = write('main.json', cfg);
  const p = run(t, ['--config', file]);
  const started = await p.started();
  t.same(started.ports, { main: port, second: port2 }, 'the start line names the bound ports');
  t.equal(started.config, file);
  t.equal(started.service, 'clawgate-router');
  const listening = p.logs.filter((l) => l.msg === 'listening');
  t.same(listening.map((l) => l.port).sort(), [port, port2].sort(), 'one "listening" line per listener');

  // unsupported keys: exactly one warning line (pino JSON on stdout) naming them
  const warnings = p.logs.filter((l) => l.level === 40);
  t.equal(warnings.length, 1, 'exactly one warning line');
  const w = warnings[0] ?? {};
  const keys = (Array.isArray(w.keys) ? w.keys : []) as string[];
  t.ok(Array.isArray(w.keys), 'the warning carries the keys as a list');
  for (const re of [/^controller$/, /^workers\[1\].*container/, /web\.paths\.old.*wsgi/, /auth_ws\.auth\.scram/]) {
    t.ok(keys.some((k) => re.test(k)), `keys include ${re}`);
  }
  t.match(w.msg, /config keys not supported \(ignored\): .*controller/);
  t.ok(keys.every((k) => String(w.msg).includes(k)), 'the message names every key');

  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200);
  const body = await health.json() as Record<string, unknown>;
  t.equal(body.status, 'ok');
  t.same(body.realms, ['realm1']);

  const ws = await connect({ port });
  const raw = await connect({ port, rawsocket: true });
  const authWs = await connect({ port, url: `ws://127.0.0.1:${port}/auth_ws` });
  const second = await connect({ port: port2, url: `ws://127.0.0.1:${port2}/` });
  const any = await connect({ port: port2, url: `ws://127.0.0.1:${port2}/any/path/at/all`, serializer: 'cbor' });
  await second.session.register('com.cli.echo', (args: unknown[]) => args[0]);
  t.equal(await ws.session.call('com.cli.echo', ['via ws']), 'via ws');
  t.equal(await raw.session.call('com.cli.echo', ['via rawsocket']), 'via rawsocket');
  t.equal(await any.session.call('wamp.session.count'), 5, 'all five sessions on one realm');

  const t0 = Date.now();
  p.child.kill('SIGTERM');
  for (const c of [ws, raw, authWs, second, any]) {
    const closed = await within(c.closed);
    t.equal((closed.details as { reason?: string }).reason, 'wamp.close.system_shutdown', 'GOODBYE system_shutdown');
    t.equal((closed.details as { message?: string }).message, 'router is shutting down');
  }
  const exit = await within(p.exited, 5000, 'exit');
  t.equal(exit.code, 0, 'exit code 0');
  t.ok(Date.now() - t0 < 3000, `exited within 3 s (${Date.now() - t0} ms)`);
  t.ok(p.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'), 'logs the shutdown');
  t.equal(p.stderr, '', 'nothing on stderr');
  // the port is free again
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
});

t.test('no --config: development config on $PORT with realm1; SIGINT', async (t) => {
  const port = await freePort();
  const p = run(t, [], { PORT: String(port) });
  const started = await p.started();
  t.same(started.ports, { dev: port });
  t.equal(started.config, '(development)');
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200);
  t.same(((await health.json()) as { realms: string[] }).realms, ['realm1']);
  const c = await connect({ port, realm: 'realm1' });
  const raw = await connect({ port, realm: 'realm1', rawsocket: true });
  await c.session.register('com.dev.ping', () => 'pong');
  t.equal(await raw.session.call('com.dev.ping'), 'pong');
  await t.rejects(connect({ port, realm: 'realm2' }), /no_such_realm/, 'only realm1 exists');
  // SIGINT (Ctrl-C) shuts down like SIGTERM
  const t0 = Date.now();
  p.child.kill('SIGINT');
  t.equal(((await within(c.closed)).details as { reason?: string }).reason, 'wamp.close.system_shutdown');
  t.equal((await within(p.exited, 30000, 'exit')).code, 0);
  t.ok(Date.now() - t0 < 3000, 'exited within 3 s');
  t.ok(p.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGINT'), 'logs the signal');
});

t.test('malformed config: exit code 2, stderr names the JSON path', async (t) => {
  const cfg = twoListenerConfig(await freePort(), await freePort()) as { workers: { transports: { endpoint: { port: unknown } }[] }[] };
  cfg.workers[0]!.transports[0]!.endpoint.port = '8080';
  const p = run(t, ['--config', write('bad-port.json', cfg)]);
  const exit = await within(p.exited, 30000, 'exit');
  t.equal(exit.code, 2);
  t.match(p.stderr, /workers\[0\]\.transports\[0\]\.endpoint\.port/);
  t.match(p.stderr, /^clawgate-router: invalid config at /);
  t.equal(p.stderr.trim().split('\n').length, 1, 'one line');
  t.notOk(p.logs.some((l) => l.msg === 'router started'));
});

t.test('invalid JSON config file: exit code 2 naming the file', async (t) => {
  const broken = write('broken.json', '{"version": 2,');
  const p = run(t, ['-c', broken]);
  t.equal((await within(p.exited, 30000, 'exit')).code, 2);
  t.ok(p.stderr.includes(broken), `stderr names the file: ${p.stderr}`);
});

t.test('a port already in use: exit code 1, "cannot start"', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as net.AddressInfo).port;
  const p = run(t, ['--config', write('in-use.json', twoListenerConfig(port, await freePort()))]);
  const exit = await within(p.exited, 30000, 'exit');
  t.equal(exit.code, 1);
  t.match(p.stderr, /^clawgate-router: cannot start: .*(EADDRINUSE|in use)/);
});

t.test('a misspelt key: exit code 2, the key and what it probably means', async (t) => {
  const cfg = twoListenerConfig(await freePort(), await freePort()) as { workers: { realms: Record<string, unknown>[] }[] };
  const realm = cfg.workers[0]!.realms[0]!;
  realm.rolse = realm.roles;
  delete realm.roles;
  const p = run(t, ['--config', write('misspelt.json', cfg)]);
  t.equal((await within(p.exited, 30000, 'exit')).code, 2);
  t.match(p.stderr, /^clawgate-router: invalid config at workers\[0\]\.realms\[0\]\.rolse: unknown key; did you mean "roles"\?/);
  t.notOk(p.logs.some((l) => l.msg === 'router started'));
});

// Issue 23: a Crossbar config with a guest worker runs unchanged. The guest is a WAMP component in
// its own process (raw WAMP over `ws`, as a component in any language would be): it joins,
// registers a procedure and answers calls; the node logs its output, starts it again when it is
// killed, and stops it with SIGTERM when the node stops.
t.test('guest workers: started beside the router, supervised, stopped with it', async (t) => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmp, 'guest-'));
  const wsModule = path.join(ROOT, 'node_modules', 'ws', 'index.js');
  fs.writeFileSync(path.join(dir, 'component.cjs'), `
const WebSocket = require(${JSON.stringify(wsModule)});
const fs = require('node:fs');
process.on('SIGTERM', () => { fs.writeFileSync('stopped-' + process.pid, 'SIGTERM'); process.exit(0); });
console.log('component starting with GREETING=' + process.env.GREETING + ' HOME_SET=' + (process.env.HOME !== undefined));
const ws = new WebSocket('ws://127.0.0.1:' + process.argv[2] + '/ws', ['wamp.2.json']);
ws.on('open', () => ws.send(JSON.stringify([1, 'realm1', { roles: { callee: {} } }])));
ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  if (m[0] === 2) ws.send(JSON.stringify([64, 1, {}, 'com.example.whoami']));
  if (m[0] === 65) console.log('registered');
  if (m[0] === 68) ws.send(JSON.stringify([70, m[1], {}, [process.pid, process.cwd()]]));
});
ws.on('error', (e) => { console.error('ws error ' + e.message); process.exit(3); });
ws.on('close', () => process.exit(4));
`);
  const cfg = twoListenerConfig(port, await freePort());
  (cfg.workers as unknown[]).push({
    type: 'guest', id: 'whoami', executable: 'node', arguments: ['component.cjs', String(port)],
    options: { workdir: path.relative(tmp, dir), env: { inherit: ['PATH'], vars: { GREETING: 'hi' } }, stop_timeout: 3000 },
  });
  const p = run(t, ['--config', write('guest.json', cfg)]);
  await p.started();
  await p.waitFor(() => p.logs.find((l) => l.guest === 'whoami' && l.msg === 'registered'), 'the guest registered');
  const hello = p.logs.find((l) => l.guest === 'whoami' && l.stream === 'stdout' && String(l.msg).startsWith('component starting'));
  t.equal(hello?.msg, 'component starting with GREETING=hi HOME_SET=false', "the guest's stdout is in the node's log; env.vars set, only PATH inherited");

  const call = async (): Promise<[number, string]> => {
    const { session, connection } = await connect({ port });
    try {
      const res = (await session.call('com.example.whoami')) as { args?: unknown[] } | unknown[];
      return (Array.isArray(res) ? res : res.args) as [number, string];
    } finally { connection.close(); }
  };
  const [pid1, cwd] = await call();
  t.equal(fs.realpathSync(cwd), fs.realpathSync(dir), 'the guest runs in options.workdir, relative to the config file');

  process.kill(pid1, 'SIGKILL');
  await p.waitFor(() => p.logs.find((l) => l.guest === 'whoami' && l.msg === 'guest worker exited' && l.signal === 'SIGKILL'), 'the exit is logged');
  await p.waitFor(() => p.logs.filter((l) => l.guest === 'whoami' && l.msg === 'registered').length === 2, 'restarted (on-failure) and registered again', 15000);
  const [pid2] = await call();
  t.not(pid2, pid1, 'a new process answers');

  p.child.kill('SIGTERM');
  t.equal((await within(p.exited, 15000, 'exit')).code, 0, 'the node exits 0');
  t.equal(fs.readFileSync(path.join(dir, `stopped-${pid2}`), 'utf8'), 'SIGTERM', 'the guest got SIGTERM when the node stopped');
  t.ok(p.logs.some((l) => l.guest === 'whoami' && l.msg === 'guest worker stopped'), 'and its stop is logged');
});
