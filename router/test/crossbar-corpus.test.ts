// A corpus of Crossbar node configs shaped like the ones in the wild (issue
// 23: crossbar-examples, `crossbar init`, Crossbar's own templates): each is
// written as `.crossbar/config.json` in a node directory of its own, as
// Crossbar keeps it, and either starts a real router (ports set to 0) and
// serves what it should, or is refused with the message intended for it.
// Written by hand: the point is the shapes, not the files.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Router, loadConfigFile, ConfigError, GuestWorkers } from '../src/index.js';
import { silentLogger } from '../src/logger.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-corpus-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

const anyone = { uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false }, cache: true };
const realm1 = (roles: unknown[] = [{ name: 'anonymous', permissions: [anyone] }]) => ({ name: 'realm1', roles });
const web8080 = (paths: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'web', endpoint: { type: 'tcp', port: 8080, backlog: 1024 }, paths, ...extra });
const router = (transports: unknown[], realms: unknown[] = [realm1()], extra: Record<string, unknown> = {}) => ({ type: 'router', options: { pythonpath: ['..'] }, realms, transports, ...extra });

interface Case {
  name: string;
  config: Record<string, unknown>;
  /** Folders (relative to the node directory's parent) the example ships. */
  dirs?: string[];
  env?: Record<string, string>;
  /** Keep the fixed ports (the case is refused at load, nothing binds). */
  keepPorts?: boolean;
  /** Starts and answers GET `get` with a body matching `body`; or is refused with `refused`. */
  expect: { get?: string; body?: RegExp; warns?: RegExp[] } | { refused: RegExp };
}

const CASES: Case[] = [
  {
    name: 'crossbar init (getting started): static page at /, WebSocket at ws, info page',
    config: { version: 2, controller: {}, workers: [router([web8080({ '/': { type: 'static', directory: '../web', options: { enable_directory_listing: true } }, info: { type: 'nodeinfo' }, ws: { type: 'websocket' } })])] },
    dirs: ['web'],
    expect: { get: '/', body: /<h1>example<\/h1>/, warns: [/^controller$/, /pythonpath/, /enable_directory_listing/] },
  },
  {
    name: 'universal transport with RawSocket, WebSocket paths and shared web resources',
    config: {
      version: 2, workers: [router([{
        type: 'universal', endpoint: { type: 'tcp', port: 8080 },
        rawsocket: { serializers: ['cbor', 'msgpack', 'json'] },
        websocket: { ws: { type: 'websocket', serializers: ['cbor', 'msgpack', 'json'] } },
        web: { paths: { '/': { type: 'static', directory: '../web' }, shared: { type: 'static', directory: '../../_shared-web-resources/autobahn' } } },
      }])],
    },
    dirs: ['web', '../_shared-web-resources/autobahn'],
    expect: { get: '/shared/autobahn.min.js', body: /autobahn/ },
  },
  {
    name: 'WAMP-Ticket with the ticket from the environment (${MYTICKET})',
    config: {
      version: 2, workers: [router([web8080({
        ws: { type: 'websocket', auth: { ticket: { type: 'static', principals: { client1: { ticket: '${MYTICKET}', role: 'frontend' } } } } },
      })], [realm1([{ name: 'frontend', permissions: [anyone] }])])],
    },
    env: { MYTICKET: 'secret!!!' },
    expect: { get: '/ws', body: /./ },
  },
  {
    name: 'the same without MYTICKET set',
    config: {
      version: 2, workers: [router([web8080({
        ws: { type: 'websocket', auth: { ticket: { type: 'static', principals: { client1: { ticket: '${MYTICKET}', role: 'frontend' } } } } },
      })], [realm1([{ name: 'frontend', permissions: [anyone] }])])],
    },
    expect: { refused: /paths\.ws\.auth\.ticket\.principals\.client1\.ticket: environment variable MYTICKET is not set/ },
  },
  {
    name: 'MQTT bridge example: mqtt transport beside a universal one',
    config: {
      version: 2, workers: [router([
        { type: 'mqtt', endpoint: { type: 'tcp', port: 1883 }, options: { realm: 'realm1', role: 'anonymous' } },
        { type: 'universal', endpoint: { type: 'tcp', port: 8080 }, websocket: { ws: { type: 'websocket' } }, mqtt: { options: { realm: 'realm1' } } },
      ])],
    },
    expect: { get: '/health', body: /ok/, warns: [/transports\[0\] \(transport type "mqtt"\)/, /transports\[1\]\.mqtt/] },
  },
  {
    name: 'cookie authentication beside WAMP-CRA',
    config: {
      version: 2, workers: [router([web8080({
        ws: { type: 'websocket', cookie: { store: { type: 'memory' } }, auth: { cookie: {}, wampcra: { type: 'static', users: { client1: { secret: 'secret123', role: 'frontend' } } } } },
      })], [realm1([{ name: 'frontend', permissions: [anyone] }])])],
    },
    expect: { get: '/health', body: /ok/, warns: [/auth\.cookie \(authentication method "cookie"\)/] },
  },
  {
    name: 'REST bridge: publisher and caller with netmask require_ip',
    config: {
      version: 2, workers: [router([web8080({
        publish: { type: 'publisher', realm: 'realm1', role: 'anonymous', options: { require_ip: ['192.168.1.1/255.255.255.0', '127.0.0.1'] } },
        call: { type: 'caller', realm: 'realm1', role: 'anonymous', options: { debug: true } },
        config: { type: 'json', value: { wamp: 'ws://localhost:8080/ws' } },
      })])],
    },
    expect: { get: '/config', body: /"wamp":"ws:\/\/localhost:8080\/ws"/ },
  },
  {
    name: 'a role without permissions but allow-by-default',
    config: { version: 2, workers: [router([web8080({ ws: { type: 'websocket' } })], [realm1([{ name: 'anonymous', 'allow-by-default': true }])])] },
    expect: { get: '/health', body: /ok/ },
  },
  {
    name: 'a Node.js component as a guest worker',
    config: {
      version: 2, workers: [
        router([web8080({ ws: { type: 'websocket' } })]),
        { type: 'guest', executable: 'node', arguments: ['-e', 'setTimeout(() => {}, 60000)'], options: { workdir: '..', watch: { directories: ['..'], action: 'restart' } } },
      ],
    },
    expect: { get: '/health', body: /ok/, warns: [/workers\[1\]\.options\.watch/] },
  },
  {
    name: 'redirect from / to the example page',
    config: { version: 2, workers: [router([web8080({ '/': { type: 'redirect', url: '/web/' }, web: { type: 'static', directory: '../web' } })])] },
    dirs: ['web'],
    expect: { get: '/web/', body: /<h1>example<\/h1>/ },
  },
  {
    name: 'RawSocket on a Unix socket for local components, beside the web transport',
    config: { version: 2, workers: [router([{ type: 'rawsocket', endpoint: { type: 'unix', path: 'crossbar.sock' }, serializers: ['cbor'] }, web8080({ ws: { type: 'websocket' } })])] },
    expect: { get: '/health', body: /ok/ },
  },
  {
    name: 'two router workers sharing port 8080 (Crossbar multi-core)',
    config: { version: 2, workers: [router([web8080({ ws: { type: 'websocket' } }, { endpoint: { type: 'tcp', port: 8080, shared: true } })]), router([web8080({ ws: { type: 'websocket' } }, { endpoint: { type: 'tcp', port: 8080, shared: true } })], [{ name: 'realm2', roles: [] }])] },
    keepPorts: true,
    expect: { refused: /port 8080 is already used by workers\[0\]\.transports\[0\] \(ClawGate merges all router workers into one router in one process/ },
  },
  {
    name: 'a misspelt permissions key',
    config: { version: 2, workers: [router([web8080({ ws: { type: 'websocket' } })], [realm1([{ name: 'anonymous', permisions: [anyone] }])])] },
    expect: { refused: /roles\[0\]\.permisions: unknown key; did you mean "permissions"/ },
  },
  {
    name: 'a config of version 1',
    config: { controller: {}, workers: [] },
    expect: { refused: /^invalid config at version: missing\. ClawGate reads Crossbar node configs of version 2/ },
  },
];

/** The config with every TCP port set to 0 (a free one), as the examples use fixed ports. */
function onFreePorts(config: unknown): unknown {
  return JSON.parse(JSON.stringify(config), (k, v) => (k === 'port' && typeof v === 'number' ? 0 : v));
}

for (const [i, c] of CASES.entries()) {
  t.test(c.name, async (t) => {
    const example = path.join(tmp, `example${i}`);
    const cbdir = path.join(example, '.crossbar');
    fs.mkdirSync(cbdir, { recursive: true });
    for (const d of c.dirs ?? []) {
      fs.mkdirSync(path.join(example, d), { recursive: true });
      fs.writeFileSync(path.join(example, d, 'index.html'), '<h1>example</h1>\n');
      fs.writeFileSync(path.join(example, d, 'autobahn.min.js'), '/* autobahn */\n');
    }
    const file = path.join(cbdir, 'config.json');
    fs.writeFileSync(file, JSON.stringify(c.keepPorts === true ? c.config : onFreePorts(c.config), null, 2));
    const saved = { ...process.env };
    Object.assign(process.env, c.env ?? {});
    let loaded: ReturnType<typeof loadConfigFile>;
    try {
      loaded = loadConfigFile(file);
    } catch (e) {
      if (!('refused' in c.expect)) throw e;
      t.type(e, ConfigError, 'refused with a ConfigError');
      t.match((e as Error).message, c.expect.refused, (e as Error).message);
      return;
    } finally {
      for (const k of Object.keys(c.env ?? {})) if (saved[k] === undefined) delete process.env[k];
    }
    if ('refused' in c.expect) { t.fail(`expected a refusal, it loaded with warnings ${JSON.stringify(loaded.unsupported)}`); return; }
    for (const re of c.expect.warns ?? []) t.ok(loaded.unsupported.some((w) => re.test(w)), `warns ${re}: ${JSON.stringify(loaded.unsupported)}`);
    const r = await new Router(loaded.config, { log: silentLogger() }).start();
    const guests = new GuestWorkers(loaded.guests, silentLogger());
    guests.start();
    t.teardown(async () => { await guests.stop(); await r.stop(); });
    t.ok(r.ready, 'the router started');
    if (loaded.guests.length > 0) t.ok(guests.workers.every((w) => w.pid !== undefined), 'the guest runs');
    if (c.expect.get !== undefined) {
      const port = Object.values(r.ports()).find((p) => p > 0)!;
      const res = await fetch(`http://127.0.0.1:${port}${c.expect.get}`);
      t.match(await res.text(), c.expect.body ?? /./, `GET ${c.expect.get}: ${res.status}`);
    }
  });
}
