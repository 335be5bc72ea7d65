// Event history, durable store (issue 20 item 3, second half): a realm
// `store` of type "sqlite" keeps the history in a real SQLite file in a temp
// directory, and a new router on the same file serves the same events (real
// routers on real ports, autobahn-js clients, the CLI as a child process).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRouter, testConfig, connect, callError, freePort, within, eventually, type RunningRouter, type SerializerName } from './helpers.js';
import { fromCrossbar, loadConfigFile, ConfigError } from '../src/config/crossbar-config.js';
import { Router } from '../src/router.js';
import { silentLogger } from '../src/logger.js';
import { SqliteHistoryStore } from '../src/broker/history-store.js';
import { loadSqlite, sqliteDriverMessage } from '../src/broker/history-store-driver.js';
import { compileReceiverFilter } from '../src/broker/receiver-filter.js';
import type { HistoryEntryConfig, StoredEvent } from '../src/broker/event-history.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-history-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const newFile = (): string => path.join(tmp, `history-${++files}.db`);

const ALL = { call: true, register: true, publish: true, subscribe: true };

interface Ev { publication: number; topic: string; timestamp: string; args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> }

function storeConfig(file: string, entries: unknown[] = [
  { uri: 'com.hist.a', match: 'exact', limit: 5 },
  { uri: 'com.hist.', match: 'prefix', limit: 10 },
]): unknown {
  return testConfig({
    realms: [{
      name: 'realm1',
      store: { type: 'sqlite', path: file, 'event-history': entries },
      roles: [
        { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL, disclose: { publisher: true } }] },
        { name: 'limited', permissions: [
          { uri: 'wamp.subscription.get_events', match: 'exact', allow: { call: true } },
          { uri: 'com.hist.a', match: 'exact', allow: { subscribe: true } },
        ] },
      ],
    }],
    transportExtras: {
      websocket: {
        ws: { type: 'websocket' },
        alice: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'anonymous', authid: 'alice' } } },
        limited: { type: 'websocket', auth: { anonymous: { type: 'static', role: 'limited' } } },
      },
    },
  });
}

async function client(r: RunningRouter, pathName = 'ws', serializer: SerializerName = 'json'): Promise<Awaited<ReturnType<typeof connect>>> {
  return connect({ port: r.port, url: `ws://127.0.0.1:${r.port}/${pathName}`, serializer });
}

/** The events a fresh session reads through its own subscription to (uri, match). */
async function read(r: RunningRouter, uri: string, opts: { match?: 'prefix' | 'wildcard'; path?: string; serializer?: SerializerName; limit?: number } = {}): Promise<Ev[]> {
  const c = await client(r, opts.path ?? 'ws', opts.serializer ?? 'json');
  try {
    const sub = await c.session.subscribe(uri, () => {}, opts.match === undefined ? {} : { match: opts.match });
    return (await c.session.call('wamp.subscription.get_events', [sub.id, opts.limit ?? 100])) as Ev[];
  } finally {
    c.connection.close();
  }
}

const bytes = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : `not bytes: ${JSON.stringify(v)}`);

t.test('events survive a restart: same publications, topics, timestamps, args and kwargs (binary too), details', async (t) => {
  const file = newFile();
  const a = await startRouter(storeConfig(file));
  const pub = await client(a, 'ws', 'cbor');
  const blob = new Uint8Array([0, 1, 2, 250, 255]);
  for (let i = 1; i <= 7; i++) await pub.session.publish('com.hist.a', [i, blob], { n: i, bin: blob }, { acknowledge: true });
  await pub.session.publish('com.hist.b', ['b'], {}, { acknowledge: true });
  const before = await read(a, 'com.hist.a', { serializer: 'cbor' });
  const beforePrefix = await read(a, 'com.hist.', { match: 'prefix' });
  t.same(before.map((e) => e.args[0]), [7, 6, 5, 4, 3], 'limit 5 kept before the restart');
  pub.connection.close();
  await a.stop();

  const b = await startRouter(storeConfig(file));
  t.teardown(() => b.stop());
  const after = await read(b, 'com.hist.a', { serializer: 'cbor' });
  t.same(after.map((e) => [e.publication, e.topic, e.timestamp]), before.map((e) => [e.publication, e.topic, e.timestamp]),
    'the same events, newest first, with their publication ids, topics and timestamps');
  t.same(after.map((e) => e.kwargs.n), [7, 6, 5, 4, 3]);
  t.equal(bytes(after[0]!.args[1]), '000102faff', 'a binary argument comes back as bytes');
  t.equal(bytes(after[0]!.kwargs.bin), '000102faff', 'a binary keyword argument too');
  t.same(after.map((e) => e.details), before.map((e) => e.details), 'details as subscribers got them');
  t.ok(typeof after[0]!.details.publisher === 'number' && after[0]!.details.publisher_authrole === 'anonymous', 'the disclosed publisher kept');
  t.same((await read(b, 'com.hist.', { match: 'prefix' })).map((e) => [e.publication, e.topic, e.args[0]]),
    beforePrefix.map((e) => [e.publication, e.topic, e.args[0]]), 'the prefix entry too (b and the a events it kept)');
  t.equal((await read(b, 'com.hist.a', { serializer: 'json' }))[0]!.args[1], `\0${Buffer.from(blob).toString('base64')}`, 'a JSON reader gets the bytes in WAMP\'s JSON binary convention');

  // New events go after the loaded ones and survive the next restart too.
  const pub2 = await client(b);
  await pub2.session.publish('com.hist.a', [8], {}, { acknowledge: true });
  pub2.connection.close();
  t.same((await read(b, 'com.hist.a')).map((e) => e.args[0]), [8, 7, 6, 5, 4]);
});

t.test('receiver filters survive a restart, and so does the permission check', async (t) => {
  const file = newFile();
  const a = await startRouter(storeConfig(file));
  const pub = await client(a);
  await pub.session.publish('com.hist.a', ['public'], {}, { acknowledge: true });
  await pub.session.publish('com.hist.a', ['for alice'], {}, { acknowledge: true, eligible_authid: ['alice'] });
  await pub.session.publish('com.hist.a', ['not for alice'], {}, { acknowledge: true, exclude_authid: ['alice'] });
  await pub.session.publish('com.hist.a', ['limited role only'], {}, { acknowledge: true, eligible_authrole: ['limited'] });
  pub.connection.close();
  await a.stop();

  const b = await startRouter(storeConfig(file));
  t.teardown(() => b.stop());
  t.same((await read(b, 'com.hist.a', { path: 'alice' })).map((e) => e.args[0]), ['for alice', 'public'], 'alice: the one for her, not the one excluding her');
  t.same((await read(b, 'com.hist.a')).map((e) => e.args[0]), ['not for alice', 'public'], 'someone else: the one excluding alice, not the one for her');
  t.same((await read(b, 'com.hist.a', { path: 'limited' })).map((e) => e.args[0]), ['limited role only', 'not for alice', 'public'], 'the role whitelist');

  const anon = await client(b);
  const limited = await client(b, 'limited');
  const wide = await anon.session.subscribe('com.hist.', () => {}, { match: 'prefix' });
  t.equal((await callError(limited.session.call('wamp.subscription.get_events', [wide.id]))).error, 'wamp.error.not_authorized',
    'a role that may not subscribe to the prefix: refused, after the restart too');
  anon.connection.close();
  limited.connection.close();
});

t.test('config changes across restarts: a lower limit trims, a removed entry is deleted from the file', async (t) => {
  const file = newFile();
  const a = await startRouter(storeConfig(file));
  const pub = await client(a);
  for (let i = 1; i <= 5; i++) await pub.session.publish('com.hist.a', [i], {}, { acknowledge: true });
  pub.connection.close();
  await a.stop();

  const lower = await startRouter(storeConfig(file, [{ uri: 'com.hist.a', limit: 2 }, { uri: 'com.hist.', match: 'prefix', limit: 10 }]));
  t.same((await read(lower, 'com.hist.a')).map((e) => e.args[0]), [5, 4], 'limit lowered to 2: the 2 newest');
  t.same((await read(lower, 'com.hist.', { match: 'prefix' })).map((e) => e.args[0]), [5, 4, 3, 2, 1], 'the other entry keeps its own');
  await lower.stop();
  const raised = await startRouter(storeConfig(file));
  t.same((await read(raised, 'com.hist.a')).map((e) => e.args[0]), [5, 4], 'raised again: the trimmed rows are gone from the file, not hidden');
  await raised.stop();

  const without = await startRouter(storeConfig(file, [{ uri: 'com.hist.a', limit: 5 }]));
  const c = await client(without);
  const sub = await c.session.subscribe('com.hist.', () => {}, { match: 'prefix' });
  t.equal((await callError(c.session.call('wamp.subscription.get_events', [sub.id]))).error, 'wamp.error.history_unavailable', 'the removed entry: no history');
  c.connection.close();
  await without.stop();
  const back = await startRouter(storeConfig(file));
  t.teardown(() => back.stop());
  t.same(await read(back, 'com.hist.', { match: 'prefix' }), [], 'the entry configured again starts empty: its rows were deleted');
  t.same((await read(back, 'com.hist.a')).map((e) => e.args[0]), [5, 4], 'the entry that stayed kept its events');
});

t.test('a router that stops writes the last batch: published, stopped at once, there after the restart', async (t) => {
  const file = newFile();
  const a = await startRouter(storeConfig(file));
  const local = await a.router.localSession('realm1');
  await local.publish('com.hist.a', ['last'], {});
  await a.router.stop(0);
  const b = await startRouter(storeConfig(file));
  t.teardown(() => b.stop());
  t.same((await read(b, 'com.hist.a')).map((e) => e.args[0]), ['last']);
});

const ENTRY: HistoryEntryConfig = { uri: 'com.x', match: 'exact', limit: 3 };
const event = (n: number, lists: Record<string, unknown> = {}): StoredEvent => ({
  publication: n, topic: 'com.x', timestamp: new Date(n * 1000).toISOString(),
  data: { args: [n], details: {} }, filter: compileReceiverFilter(lists),
});

t.test('the store: close writes what is pending; a burst beyond the limit is trimmed in the batch', async (t) => {
  const file = newFile();
  const s1 = SqliteHistoryStore.open({ type: 'sqlite', path: file }, 'r', [ENTRY], silentLogger());
  t.same(s1.load(), [[]], 'a new file: nothing');
  s1.append(event(1), [ENTRY]);
  s1.append(event(2, { eligible_authid: ['alice'], acknowledge: true, x_custom: 'not stored' }), [ENTRY]);
  // Closed in the same tick: the batch timer cannot have fired, only close() wrote it.
  s1.close();
  const s2 = SqliteHistoryStore.open({ type: 'sqlite', path: file }, 'r', [ENTRY], silentLogger());
  const [loaded] = s2.load();
  t.same(loaded!.map((e) => e.publication), [1, 2], 'oldest first');
  t.same(loaded![1]!.filter?.options, { eligible_authid: ['alice'] }, 'the lists (nothing else of the options), compiled again');
  t.equal(loaded![1]!.filter!({ id: 1, authid: 'alice', authrole: 'x' }), true);
  t.equal(loaded![1]!.filter!({ id: 1, authid: 'bob', authrole: 'x' }), false);
  t.equal(loaded![0]!.filter, null, 'no lists, no filter');
  for (let i = 3; i <= 10; i++) s2.append(event(i), [ENTRY]);
  s2.close();
  const s3 = SqliteHistoryStore.open({ type: 'sqlite', path: file }, 'r', [ENTRY], silentLogger());
  t.same(s3.load()[0]!.map((e) => e.publication), [8, 9, 10], 'the last 3');
  s3.close();
  const Database = loadSqlite();
  const db = new Database(file);
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM history_event').get() as { n: number }).n, 3, 'and only 3 rows in the file');
  db.close();
});

t.test('an event kept by two entries is loaded as one', async (t) => {
  const file = newFile();
  const wide: HistoryEntryConfig = { uri: 'com.', match: 'prefix', limit: 5 };
  const s1 = SqliteHistoryStore.open({ type: 'sqlite', path: file }, 'r', [ENTRY, wide], silentLogger());
  s1.append(event(1), [ENTRY, wide]);
  s1.close();
  const s2 = SqliteHistoryStore.open({ type: 'sqlite', path: file }, 'r', [ENTRY, wide], silentLogger());
  const [a, b] = s2.load();
  t.equal(a![0], b![0], 'the same object in both rings');
  s2.close();
});

t.test('files that cannot be used stop the start with a clear error', async (t) => {
  const corrupt = newFile();
  fs.writeFileSync(corrupt, 'this is not a SQLite database, '.repeat(200));
  const attempt = async (file: string): Promise<string> => {
    const router = new Router(fromCrossbar(storeConfig(file)).config, { log: silentLogger() });
    try {
      await router.start();
    } catch (e) {
      t.equal(router.ready, false);
      return (e as Error).message;
    }
    await router.stop(0);
    return 'started';
  };
  t.match(await attempt(corrupt), new RegExp(`realm "realm1": cannot open the event history file ${corrupt}: file is not a database \\(the file is not an event history`));
  t.match(await attempt(path.join(tmp, 'no-such-dir', 'h.db')), /cannot open the event history file .*no-such-dir.*directory does not exist/);
  t.match(await attempt(tmp), /cannot open the event history file/, 'a directory');

  const file = newFile();
  const first = await startRouter(storeConfig(file));
  t.match(await attempt(file), /database is locked \(another router, or another realm of this one, has it open/, 'a file another router has open');
  await first.stop();
  t.equal(await attempt(file), 'started', 'free again once that router stopped');
});

t.test('the CLI: a corrupt file is "cannot start", exit 1, no stack trace; SIGTERM writes the last batch', async (t) => {
  const bin = fileURLToPath(new URL('../bin/clawgate-router.js', import.meta.url));
  const corrupt = path.join(tmp, 'corrupt.db');
  fs.writeFileSync(corrupt, 'garbage '.repeat(1000));
  const port = await freePort();
  const config = (file: string): unknown => {
    const c = storeConfig(file) as { workers: { transports: { endpoint: { port: number } }[]; realms: { store: { path: string } }[] }[] };
    c.workers[0]!.transports[0]!.endpoint.port = port;
    c.workers[0]!.realms[0]!.store.path = path.basename(file); // relative: to the config file's directory
    return c;
  };
  const runCli = (cfg: unknown): { exited: Promise<number | null>; out: () => string; err: () => string; kill: (s: NodeJS.Signals) => void } => {
    const file = path.join(tmp, `cli-${++files}.json`);
    fs.writeFileSync(file, JSON.stringify(cfg));
    // With the source condition, as tap runs the tests: the bin then runs src/cli.ts in this child.
    const child = spawn(process.execPath, ['--conditions=@clawgate/source', bin, '--config', file], { env: { ...process.env, CLAWGATE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    return { exited: new Promise((r) => child.on('exit', (code) => r(code))), out: () => out, err: () => err, kill: (s) => child.kill(s) };
  };

  const bad = runCli(config(corrupt));
  t.equal(await within(bad.exited, 30000, 'exit'), 1);
  t.match(bad.err(), /^clawgate-router: cannot start: realm "realm1": cannot open the event history file .*corrupt\.db: file is not a database/);
  t.notMatch(bad.err(), /\n\s+at /, 'no stack trace');

  const file = path.join(tmp, 'cli-history.db');
  const good = runCli(config(file));
  await eventually(() => good.out().includes('router started'), 30000, 'router started');
  const pub = await connect({ port });
  await pub.session.publish('com.hist.a', ['before SIGTERM'], {}, { acknowledge: true });
  good.kill('SIGTERM');
  t.equal(await within(good.exited, 30000, 'exit'), 0);
  const b = await startRouter(storeConfig(file));
  t.teardown(() => b.stop());
  t.same((await read(b, 'com.hist.a')).map((e) => e.args[0]), ['before SIGTERM'], 'the file named relative to the config file, written before exit');
});

t.test('better-sqlite3 missing: the start error says what to install', async (t) => {
  t.throws(() => loadSqlite('better-sqlite3-not-installed'), {
    message: 'store.type sqlite needs the better-sqlite3-not-installed package: npm install better-sqlite3-not-installed',
  });
  t.equal(sqliteDriverMessage('better-sqlite3', Object.assign(new Error("Cannot find module 'better-sqlite3'"), { code: 'MODULE_NOT_FOUND' })),
    'store.type sqlite needs the better-sqlite3 package: npm install better-sqlite3');
  t.match(sqliteDriverMessage('better-sqlite3', new Error('was compiled against a different Node.js version')),
    /installed but does not load \(was compiled against a different Node\.js version\): npm rebuild better-sqlite3/);
  t.equal(typeof loadSqlite(), 'function', 'the installed one loads');
});

t.test('config: the sqlite store', async (t) => {
  const at = 'workers[0].realms[0].store';
  const ok = fromCrossbar(storeConfig('/var/lib/clawgate/history.db'));
  t.same(ok.config.realms[0]!.historyStore, { type: 'sqlite', path: '/var/lib/clawgate/history.db' });
  t.same(ok.config.realms[0]!.eventHistory, [{ uri: 'com.hist.a', match: 'exact', limit: 5 }, { uri: 'com.hist.', match: 'prefix', limit: 10 }]);
  t.notOk(ok.unsupported.some((w) => w.includes('store')), 'no warning');
  t.throws(() => fromCrossbar(testConfig({ realms: [{ name: 'realm1', store: { type: 'sqlite', 'event-history': [] } }] })),
    new ConfigError(`invalid config at ${at}.path: a store of type "sqlite" needs the path of its SQLite file (relative to the config file's directory)`));
  t.throws(() => fromCrossbar(testConfig({ realms: [{ name: 'realm1', store: { type: 'sqlite', path: '' } }] })), new RegExp(`${at.replace(/[[\].]/g, '\\$&')}\\.path`));
  const twice = testConfig({ realms: [
    { name: 'r1', store: { type: 'sqlite', path: '/tmp/h.db' } },
    { name: 'r2', store: { type: 'sqlite', path: '/tmp/../tmp/h.db' } },
  ] });
  t.throws(() => fromCrossbar(twice), /workers\[0\]\.realms\[1\]\.store\.path: \/tmp\/h\.db is already the event history file of workers\[0\]\.realms\[0\]\.store/);
  const extra = fromCrossbar(testConfig({ realms: [{ name: 'realm1', store: { type: 'sqlite', path: '/tmp/h.db', 'call-queue': [] } }] }));
  t.ok(extra.unsupported.includes(`${at}.call-queue`), 'an unknown key: the usual warning');
  const memoryPath = fromCrossbar(testConfig({ realms: [{ name: 'realm1', store: { type: 'memory', path: '/tmp/h.db' } }] }));
  t.ok(memoryPath.unsupported.includes(`${at}.path`), 'path on a memory store: named, not used');
  t.equal(memoryPath.config.realms[0]!.historyStore, undefined);
  const cfxdb = fromCrossbar(testConfig({ realms: [{ name: 'realm1', store: { type: 'cfxdb', path: '/tmp/h.db', 'event-history': [{ uri: 'com.x' }] } }] }));
  t.ok(cfxdb.unsupported.some((w) => w.startsWith(`${at}.type`)), 'cfxdb: still a warning');
  t.equal(cfxdb.config.realms[0]!.eventHistory, undefined);

  const dir = fs.mkdtempSync(path.join(tmp, 'config-'));
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(storeConfig('data/history.db')));
  t.equal(loadConfigFile(cfgFile).config.realms[0]!.historyStore?.path, path.join(dir, 'data', 'history.db'), 'relative to the config file\'s directory');
});
