// Memory pressure (issue 13: "under memory pressure the router refuses new
// work with a clear error rather than dying"). The decision is pure and
// tested with a fake heap; the behaviour is tested on a real router process
// with a small heap (--max-old-space-size=128) whose other bounds are lifted
// so that a client can really fill it, with the issue's own attack
// (subscriptions to megabyte URIs): past the high watermark the router
// refuses SUBSCRIBE and new sessions with clawgate.error.overloaded, keeps
// serving what it has, does not die, and takes new sessions again once the
// attacker is gone and the heap is below the low watermark.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Wire } from './wire.js';
import { freePort } from './helpers.js';
import v8 from 'node:v8';
import { nextOverloaded, MemoryPressure, oldSpaceLimit, readHeap, type HeapReading } from '../src/limits/memory-pressure.js';

t.test('the watermark decision: enter above high, leave below low', async (t) => {
  const limits = { heapHighWatermark: 0.8, heapLowWatermark: 0.6 };
  t.equal(nextOverloaded(false, 0.79, limits), false);
  t.equal(nextOverloaded(false, 0.8, limits), true, 'at the high watermark: overloaded');
  t.equal(nextOverloaded(true, 0.7, limits), true, 'between the marks it stays overloaded (hysteresis)');
  t.equal(nextOverloaded(true, 0.59, limits), false, 'below the low watermark: takes work again');
  t.equal(nextOverloaded(false, 0.7, limits), false, 'and between the marks it stays so');

  let used = 10;
  const changes: boolean[] = [];
  const m = new MemoryPressure({ ...limits, checkIntervalMs: 1000 }, (o) => changes.push(o), (): HeapReading => ({ used, limit: 100 }));
  m.check();
  used = 85; m.check();
  used = 70; m.check();
  used = 50; m.check();
  used = 90; m.check();
  t.same(changes, [true, false, true], 'onChange fires on each transition only');
  t.equal(m.episodes, 2, 'episodes are counted');
  t.same(m.last, { used: 90, limit: 100 });
});

t.test('with --max-old-space-size the limit is the old generation\'s (Node 24 adds 192 MB of young generation to heap_size_limit)', async (t) => {
  const MB = 1024 * 1024;
  t.equal(oldSpaceLimit(['--max-old-space-size=128'], undefined), 128 * MB);
  t.equal(oldSpaceLimit(['--max_old_space_size', '256'], undefined), 256 * MB, 'underscores, the value as the next argument');
  t.equal(oldSpaceLimit([], ' --enable-source-maps --max-old-space-size=512'), 512 * MB, 'from NODE_OPTIONS');
  t.equal(oldSpaceLimit(['--max-old-space-size=128'], '--max-old-space-size=512'), 128 * MB, 'the command line wins over NODE_OPTIONS');
  t.equal(oldSpaceLimit(['--import=tsx'], ''), undefined, 'not given: V8 sized the heap');
  t.equal(oldSpaceLimit(['--max-old-space-size=lots'], undefined), undefined);
  t.equal(oldSpaceLimit(['--max-old-space-size-percentage=50'], undefined), undefined, 'another flag');
  const heap = readHeap(64 * MB);
  t.equal(heap.limit, 64 * MB);
  t.ok(heap.used > 0 && heap.used <= v8.getHeapStatistics().used_heap_size, 'the old generation\'s use: part of the heap\'s');
  t.same(Object.keys(readHeap(undefined)), ['used', 'limit'], 'without a flag: the whole heap');
  t.equal(readHeap(undefined).limit, v8.getHeapStatistics().heap_size_limit);
});

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'router', 'bin', 'clawgate-router.js');

t.test('a router with a 128 MB heap, flooded past its watermark, refuses new work and lives', async (t) => {
  const port = await freePort();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-memory-test-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const file = path.join(tmp, 'router.json');
  fs.writeFileSync(file, JSON.stringify({
    version: 2,
    workers: [{
      type: 'router',
      options: { memory: { heap_high_watermark: 0.5, heap_low_watermark: 0.35, check_interval: 100 } },
      realms: [{
        name: 'realm1',
        // Every other bound lifted: only the watermark stands between this client and the heap limit.
        options: { limits: { max_uri_length: 4_000_000, subscribe_rate: null, max_subscriptions: null, max_total_subscriptions: null } },
        roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] }],
      }],
      transports: [{
        type: 'universal', endpoint: { type: 'tcp', port, interface: '127.0.0.1' },
        websocket: { ws: { type: 'websocket', options: { max_message_size: 4 * 1024 * 1024 } } },
        web: { paths: {} },
      }],
    }],
  }));
  const child = spawn(process.execPath, ['--max-old-space-size=128', BIN, '--config', file], {
    cwd: ROOT, env: { ...process.env, CLAWGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  for (let i = 0; ; i++) {
    try { await fetch(`http://127.0.0.1:${port}/health`); break; } catch { if (i > 200) throw new Error(`router did not start: ${out}`); await new Promise((r) => setTimeout(r, 100)); }
  }

  const bystander = await Wire.open({ kind: 'ws', port });
  await bystander.join();
  const attacker = await Wire.open({ kind: 'ws', port, compress: true });
  await attacker.join();
  let subscribed = 0;
  let overloaded: unknown[] | undefined;
  // 1 MB URIs, one at a time, until the router says no (at most 400: 400 MB would end a 128 MB heap three times over).
  for (let i = 1; i <= 400 && overloaded === undefined; i++) {
    attacker.send([32, i, {}, `com.flood.${String(i).padStart(4, '0')}.${'x'.repeat(1024 * 1024)}`]);
    const m = await attacker.next(undefined, 30_000);
    if (m[0] === 33) subscribed++;
    else overloaded = m;
  }
  t.ok(overloaded !== undefined, `the router refused after ${subscribed} subscriptions of 1 MB`);
  t.equal(overloaded?.[4], 'clawgate.error.overloaded', 'with clawgate.error.overloaded');
  t.match((overloaded?.[5] as string[] | undefined)?.[0], /short of memory/);

  const newcomer = await Wire.open({ kind: 'ws', port });
  newcomer.send([1, 'realm1', { roles: { caller: {} } }]);
  const abort = await newcomer.next(undefined, 10_000);
  t.same([abort[0], abort[2]], [3, 'clawgate.error.overloaded'], 'a new session gets ABORT clawgate.error.overloaded');
  t.equal((await bystander.call(1, 'wamp.session.count', [], 10_000))[0], 50, 'an established session is still served');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.match(metrics, /clawgate_overloaded 1/, '/metrics says so');
  t.match(metrics, /clawgate_limit_events_total\{kind="overload_refused"\} [1-9]/, 'and counts the refusals');
  t.match(out, /heap over its high watermark/, 'the router logged the transition');

  attacker.close();
  // The attacker's subscriptions are garbage now; once V8 has collected them the router takes new sessions again.
  let back = false;
  const deadline = Date.now() + 60_000;
  while (!back && Date.now() < deadline && child.exitCode === null) {
    const w = await Wire.open({ kind: 'ws', port });
    w.send([1, 'realm1', { roles: { caller: {} } }]);
    back = (await w.next(undefined, 10_000))[0] === 2;
    w.close();
    if (!back) await new Promise((r) => setTimeout(r, 250));
  }
  t.ok(back, 'after the attacker left, a new session is welcomed again');
  t.equal(child.exitCode, null, 'the router never died');
  bystander.close();
  child.kill('SIGTERM');
  await exited;
});
