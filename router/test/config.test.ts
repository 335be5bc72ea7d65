// Crossbar.io config conversion: fromCrossbar() and loadConfigFile() as pure
// functions (files go to a temp dir).
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { fromCrossbar, loadConfigFile, ConfigError, devConfig } from '../src/index.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../src/config/crossbar-config.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-config-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

const allowAll = { call: true, register: true, publish: true, subscribe: true };

/**
 * autobahn-js's `.crossbar/config.json` (universal transport on 8080 with
 * RawSocket, WebSocket paths `ws` and `auth_ws`, a static web path), with a
 * plain WebSocket transport on 8090 and a container worker added.
 */
function autobahnConfig(): Record<string, unknown> {
  return {
    version: 2,
    workers: [
      {
        type: 'router',
        realms: [{
          name: 'realm1',
          roles: [
            { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: { caller: false, publisher: false }, cache: true }] },
            { name: 'authenticated', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: { caller: false, publisher: false }, cache: true }] },
          ],
        }],
        transports: [
          {
            type: 'universal',
            endpoint: { type: 'tcp', port: 8080 },
            rawsocket: { serializers: ['cbor', 'msgpack', 'ubjson', 'json'] },
            websocket: {
              ws: {
                type: 'websocket',
                serializers: ['cbor', 'msgpack', 'ubjson', 'json'],
                options: {
                  compression: {
                    deflate: { request_no_context_takeover: false, request_max_window_bits: 13, no_context_takeover: false, max_window_bits: 13, memory_level: 5 },
                  },
                },
              },
              auth_ws: {
                type: 'websocket',
                auth: {
                  wampcra: { type: 'static', users: { username: { secret: 'p4ssw0rd', role: 'authenticated' } } },
                  anonymous: { type: 'static', role: 'anonymous' },
                },
              },
            },
            web: {
              paths: {
                '/': { type: 'static', directory: '.', options: { enable_directory_listing: true, mime_types: { '.md': 'text/plain', '.py': 'text/plain' } } },
              },
            },
          },
          {
            type: 'websocket',
            endpoint: { type: 'tcp', port: 8090 },
          },
        ],
      },
      {
        type: 'container',
        options: { pythonpath: ['..'] },
        components: [{ type: 'class', classname: 'hello.hello.AppSession', realm: 'realm1', transport: { type: 'websocket', endpoint: { type: 'tcp', host: '127.0.0.1', port: 8080 }, url: 'ws://127.0.0.1:8080/ws' } }],
      },
    ],
  };
}

/** The ConfigError fromCrossbar throws for `raw`, or what else happened. */
function configError(raw: unknown): ConfigError | string {
  try {
    fromCrossbar(raw);
    return 'no error thrown';
  } catch (e) {
    return e instanceof ConfigError ? e : `threw ${String(e)}`;
  }
}

/** A deep copy of autobahnConfig() with `edit` applied. */
function edited(edit: (c: any) => void): unknown { // eslint-disable-line @typescript-eslint/no-explicit-any
  const c = JSON.parse(JSON.stringify(autobahnConfig())) as unknown; // no shared sub-objects
  edit(c);
  return c;
}

t.test("autobahn-js's Crossbar config converts", async (t) => {
  const { config, unsupported } = fromCrossbar(autobahnConfig());

  t.equal(config.realms.length, 1);
  const realm = config.realms[0]!;
  t.equal(realm.name, 'realm1');
  t.equal(realm.uriCheck, 'loose');
  t.same(realm.roles.map((r) => r.name), ['anonymous', 'authenticated']);
  t.same(realm.roles[0]!.permissions, [{
    uri: '', match: 'prefix',
    allow: { call: true, register: true, publish: true, subscribe: true },
    disclose: { caller: false, publisher: false },
  }], 'permission converted; `cache` dropped');

  t.equal(config.listeners.length, 2, 'two listeners: universal 8080 and websocket 8090');
  const [universal, plain] = config.listeners;
  t.equal(universal!.port, 8080);
  t.equal(universal!.host, '0.0.0.0', 'no interface: all IPv4 interfaces');
  t.equal(universal!.id, 'transport1', 'default id');
  t.equal(universal!.web, true, 'universal serves HTTP');
  t.same([...universal!.websocket.keys()].sort(), ['/auth_ws', '/ws'], 'paths get a leading slash; the static path is not a WebSocket endpoint');
  const ws = universal!.websocket.get('/ws')!;
  t.same(ws.serializers, ['cbor', 'msgpack', 'json'], 'ubjson dropped, order kept');
  t.equal(ws.compression, true, "Crossbar's deflate object enables compression");
  t.equal(ws.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE);
  t.same(ws.auth, { anonymous: { type: 'static', role: 'anonymous' } }, 'no auth section: anonymous as role anonymous');
  const authWs = universal!.websocket.get('/auth_ws')!;
  t.same(authWs.auth, {
    wampcra: { type: 'static', users: { username: { secret: 'p4ssw0rd', role: 'authenticated' } } },
    anonymous: { type: 'static', role: 'anonymous' },
  }, 'wampcra and anonymous both accepted');
  t.same(authWs.serializers, ['json', 'msgpack', 'cbor'], 'default: all three serializers');
  t.ok(universal!.rawsocket, 'rawsocket block');
  t.same(universal!.rawsocket!.serializers, ['cbor', 'msgpack', 'json']);

  t.equal(plain!.port, 8090);
  t.equal(plain!.id, 'transport2');
  t.equal(plain!.web, false, 'a websocket transport serves no HTTP');
  t.same([...plain!.websocket.keys()], ['*'], 'a websocket transport accepts any path');
  t.equal(plain!.rawsocket, undefined);

  const has = (re: RegExp): boolean => unsupported.some((u) => re.test(u));
  t.ok(has(/^workers\[1\].*container/), `the container worker is listed: ${JSON.stringify(unsupported)}`);
  t.ok(has(/^workers\[0\]\.transports\[0\]\.web\.paths\.\/\.options\.enable_directory_listing \(directories are not listed\)/), 'the static path is served (issue 23); its directory listing is named as not done');
  t.same(config.web?.map((w) => [w.type, w.listener, w.path]), [['static', 'transport1', '/']], 'the static path is a web resource');
  t.notOk(has(/wampcra/), 'the wampcra auth method is supported');
  t.ok(has(/ubjson/), 'the ubjson serializer is listed');
  t.notOk(has(/cache/), 'permission `cache` is accepted silently');
  t.notOk(has(/anonymous/), 'anonymous auth is supported');
  t.notOk(unsupported.some((u) => u.startsWith('workers[1].')), 'nothing inside the skipped container worker is listed separately');
});

t.test('the same config as a YAML file (and JSON file) loads the same', async (t) => {
  const fromObject = fromCrossbar(autobahnConfig(), { baseDir: tmp }); // the static directory is relative to the file's folder
  const yamlFile = write('config.yaml', toYaml(autobahnConfig()));
  const ymlFile = write('config.yml', toYaml(autobahnConfig()));
  const jsonFile = write('config.json', JSON.stringify(autobahnConfig(), null, 2));
  for (const file of [yamlFile, ymlFile, jsonFile]) {
    const loaded = loadConfigFile(file);
    t.same(loaded.config, fromObject.config, path.basename(file));
    t.same(loaded.unsupported, fromObject.unsupported, `${path.basename(file)}: same warnings`);
  }
  // hand-written YAML with comments and anchors
  const handYaml = write('hand.yaml', [
    '# a Crossbar node config in YAML',
    'version: 2',
    'workers:',
    '  - type: router',
    '    realms:',
    '      - name: realm1',
    '        roles:',
    '          - name: anonymous',
    '            permissions:',
    '              - uri: ""',
    '                match: prefix',
    '                allow: &all {call: true, register: true, publish: true, subscribe: true}',
    '              - uri: "com.private."',
    '                match: prefix',
    '                allow: {call: false}',
    '    transports:',
    '      - type: websocket',
    '        id: yamlws',
    '        endpoint: {type: tcp, port: 9123, interface: 127.0.0.1}',
    '        serializers: [json]',
    '',
  ].join('\n'));
  const hand = loadConfigFile(handYaml);
  t.same(hand.unsupported, []);
  t.equal(hand.config.listeners[0]!.id, 'yamlws');
  t.equal(hand.config.listeners[0]!.host, '127.0.0.1');
  t.same(hand.config.listeners[0]!.websocket.get('*')!.serializers, ['json']);
  t.same(hand.config.realms[0]!.roles[0]!.permissions[1], {
    uri: 'com.private.', match: 'prefix',
    allow: { call: false, register: false, publish: false, subscribe: false },
    disclose: { caller: false, publisher: false },
  }, 'allow flags default to false');
});

t.test('malformed configs: ConfigError naming the JSON path', async (t) => {
  const expectConfigError = (raw: unknown, pathText: string | RegExp, what: string): void => {
    const err = configError(raw);
    if (typeof err === 'string') { t.fail(`${what}: expected a ConfigError, ${err}`); return; }
    if (typeof pathText === 'string') t.ok(err.message.includes(pathText), `${what}: message names ${pathText} (got: ${err.message})`);
    else t.match(err.message, pathText, `${what}: message`);
  };
  expectConfigError(edited((c) => { c.workers[0].transports[0].endpoint.port = '8080'; }),
    'workers[0].transports[0].endpoint.port', 'port as a string');
  expectConfigError(edited((c) => { c.workers[0].transports[1].endpoint.port = 70000; }),
    'workers[0].transports[1].endpoint.port', 'port out of range');
  expectConfigError(edited((c) => { c.workers[0].realms[0].roles[0].permissions[0].match = 'bogus'; }),
    'workers[0].realms[0].roles[0].permissions[0].match', 'match "bogus"');
  expectConfigError(edited((c) => { c.workers[0].realms[0].roles[1].permissions[0].allow.call = 'yes'; }),
    'workers[0].realms[0].roles[1].permissions[0].allow.call', 'allow flag not a boolean');
  expectConfigError(edited((c) => { c.version = 1; }), 'version', 'version 1');
  expectConfigError(edited((c) => { delete c.version; }), 'version', 'no version');
  expectConfigError(edited((c) => { c.workers.splice(0, 1); }), /at workers\b.*router/, 'no router worker');
  expectConfigError({ version: 2, workers: [] }, /at workers\b/, 'no workers at all');
  expectConfigError(edited((c) => { c.workers[0].realms.push({ name: 'realm1' }); }),
    'workers[0].realms[1].name', 'duplicate realm');
  expectConfigError(edited((c) => { c.workers.push({ type: 'router', realms: [{ name: 'realm1' }] }); }),
    'workers[2].realms[0].name', 'duplicate realm across router workers');
  expectConfigError(edited((c) => { c.workers[0].transports[1].endpoint.port = 8080; }),
    'workers[0].transports[1].endpoint.port', 'two transports on one port');
  expectConfigError(edited((c) => { c.workers[0].transports[0].rawsocket.serializers = ['ubjson', 'flatbuffers']; }),
    'workers[0].transports[0].rawsocket.serializers', 'only unsupported serializers (rawsocket)');
  expectConfigError(edited((c) => { c.workers[0].transports[0].websocket.ws.serializers = ['ubjson']; }),
    'workers[0].transports[0].websocket.ws.serializers', 'only unsupported serializers (websocket path)');
  expectConfigError(edited((c) => { c.workers[0].transports[1].serializers = []; }),
    'workers[0].transports[1].serializers', 'empty serializer list');
  expectConfigError(edited((c) => { c.workers[0].transports[0].endpoint.type = 'pipe'; }),
    'workers[0].transports[0].endpoint.type', 'an endpoint neither tcp nor unix');
  expectConfigError(edited((c) => { c.workers[0].transports[0].endpoint.type = 'unix'; }),
    'workers[0].transports[0].endpoint.path', 'a unix endpoint without its path');
  expectConfigError(edited((c) => { c.workers[0].transports[1].type = 'stomp'; }),
    'workers[0].transports[1].type', 'unknown transport type (mqtt is skipped with a warning: issue 23)');
  expectConfigError(edited((c) => { c.workers[0].realms[0].name = ''; }),
    'workers[0].realms[0].name', 'empty realm name');
  expectConfigError(edited((c) => { c.workers[0].realms[0].options = { uri_check: 'lenient' }; }),
    'workers[0].realms[0].options.uri_check', 'unknown uri_check');
  expectConfigError(edited((c) => { c.workers[0].transports[0].websocket.ws.options.max_message_size = -1; }),
    'workers[0].transports[0].websocket.ws.options.max_message_size', 'negative max_message_size');
  // serving plaintext where TLS was asked for would be worse than not starting
  expectConfigError(edited((c) => { c.workers[0].transports[1].endpoint.tls = { key: 'server.key', certificate: 'server.crt' }; }),
    'workers[0].transports[1].endpoint.tls', 'endpoint.tls');
  expectConfigError('not an object', /invalid config/, 'not an object at all');
  t.throws(() => fromCrossbar(null), ConfigError, 'null');
});

t.test('permissions: old-style `*` shorthand and defaults', async (t) => {
  const { config } = fromCrossbar({
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'r', options: { uri_check: 'strict' },
        roles: [{
          name: 'old',
          permissions: [
            { uri: 'com.*', allow: { call: true } },
            { uri: '*', allow: { subscribe: true } },
            { uri: 'com.exact', allow: { publish: true } },
            { uri: 'com.wild..x', match: 'wildcard', allow: { register: true }, disclose: { caller: true } },
          ],
        }],
      }],
      transports: [],
    }],
  });
  const realm = config.realms[0]!;
  t.equal(realm.uriCheck, 'strict');
  const [com, star, exact, wild] = realm.roles[0]!.permissions;
  t.same([com!.uri, com!.match], ['com.', 'prefix'], "'com.*' becomes prefix 'com.'");
  t.same(com!.allow, { call: true, register: false, publish: false, subscribe: false });
  t.same([star!.uri, star!.match], ['', 'prefix'], "'*' becomes prefix ''");
  t.same([exact!.uri, exact!.match], ['com.exact', 'exact'], 'no match and no star: exact');
  t.same([wild!.uri, wild!.match], ['com.wild..x', 'wildcard'], 'explicit match kept');
  t.same(wild!.disclose, { caller: true, publisher: false });
  t.same(config.listeners, [], 'a router worker without transports');
});

t.test('transports: websocket, rawsocket, web, options, auth, ids', async (t) => {
  const { config, unsupported } = fromCrossbar({
    version: 2,
    workers: [{
      type: 'router',
      id: 'worker-1',
      realms: [{ name: 'r', roles: [{ name: 'svc', permissions: [] }] }],
      transports: [
        { type: 'rawsocket', id: 'raw', endpoint: { type: 'tcp', port: 9001, host: '127.0.0.2' }, serializers: ['msgpack'], options: { max_message_size: 4096 } },
        {
          type: 'web', id: 'web', endpoint: { type: 'tcp', port: 9002, interface: '::1' },
          paths: { '/': { type: 'static', directory: '..' }, 'wamp': { type: 'websocket', options: { compression: false }, auth: { anonymous: { type: 'static', role: 'svc' } } } },
        },
        { type: 'websocket', endpoint: { type: 'tcp', port: 0 }, auth: { scram: { type: 'static', principals: {} } } },
        { type: 'websocket', endpoint: { type: 'tcp', port: 0 } },
      ],
    }],
  });
  const [raw, web, ticket, zero] = config.listeners;
  t.equal(raw!.id, 'raw');
  t.equal(raw!.host, '127.0.0.2', '`host` is an alias of `interface`');
  t.same(raw!.websocket.size, 0);
  t.equal(raw!.web, false);
  t.same(raw!.rawsocket!.serializers, ['msgpack']);
  t.equal(raw!.rawsocket!.maxMessageSize, 4096);

  t.equal(web!.host, '::1');
  t.equal(web!.web, true);
  t.same([...web!.websocket.keys()], ['/wamp']);
  t.equal(web!.websocket.get('/wamp')!.compression, false, 'compression: false');
  t.same(web!.websocket.get('/wamp')!.auth, { anonymous: { type: 'static', role: 'svc' } });
  t.equal(web!.rawsocket, undefined);

  t.same(ticket!.websocket.get('*')!.auth, {}, 'only an unsupported method: nothing accepted');
  t.equal(ticket!.id, 'transport3');
  t.equal(zero!.id, 'transport4');
  t.equal(zero!.port, 0, 'several port-0 transports are fine');

  const has = (re: RegExp): boolean => unsupported.some((u) => re.test(u));
  t.same(config.web?.map((w) => [w.type, w.path, w.type === 'static' ? w.directory : '']), [['static', '/', path.resolve('..')]], 'a static path on a web transport is served (issue 23), relative to the working directory without baseDir');
  t.ok(has(/^workers\[0\]\.transports\[2\]\.auth\.scram/), 'scram auth');
  t.notOk(has(/worker-1|\.id\b/), 'worker id is accepted');
});

t.test('unsupported keys at the top level, workers, realms and roles', async (t) => {
  const { unsupported } = fromCrossbar({
    version: 2,
    $schema: 'https://raw.githubusercontent.com/crossbario/crossbar/master/crossbar.json',
    controller: { id: 'node1' },
    extra: true,
    workers: [{
      type: 'router',
      options: { pythonpath: ['..'] },
      components: [],
      mystery: 1,
      realms: [{ name: 'r', store: { type: 'cfxdb' }, roles: [{ name: 'x', authorizer: 'com.auth', permissions: [], mystery_role_key: 1 }] }],
      transports: [],
    }, { type: 'guest', executable: 'node' }],
  });
  for (const key of ['controller', 'extra', 'workers[0].options', 'workers[0].components', 'workers[0].mystery', 'workers[0].realms[0].store', 'workers[0].realms[0].roles[0].mystery_role_key']) {
    t.ok(unsupported.some((u) => u === key || u.startsWith(`${key} `) || u.startsWith(`${key}.`)), `${key} listed`);
  }
  t.notOk(unsupported.some((u) => u.startsWith('workers[1]')), 'a guest worker is not a warning: it runs (issue 23)');
  t.notOk(unsupported.some((u) => u.includes('$schema')), '$schema is accepted');
  t.equal(new Set(unsupported).size, unsupported.length, 'each key listed once');
});

t.test('the docs example and the dev config load without warnings', async (t) => {
  const docsExample = {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        options: { uri_check: 'loose' },
        roles: [
          { name: 'anonymous', permissions: [
            { uri: '', match: 'prefix', allow: allowAll, disclose: { caller: false, publisher: false }, cache: true },
            { uri: 'wamp.', match: 'prefix', allow: { call: false, register: false, publish: false, subscribe: true } },
          ] },
          { name: 'backend', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: { caller: true, publisher: true } }] },
        ],
      }],
      transports: [
        {
          type: 'universal', id: 'main', endpoint: { type: 'tcp', port: 8080 },
          rawsocket: { serializers: ['cbor', 'msgpack', 'json'], options: { max_message_size: 1048576 } },
          websocket: { ws: { type: 'websocket', serializers: ['cbor', 'msgpack', 'json'], options: { max_message_size: 1048576, compression: true } } },
          web: { paths: {} },
        },
        {
          type: 'websocket', id: 'backend', endpoint: { type: 'tcp', port: 8090, interface: '127.0.0.1' },
          serializers: ['msgpack', 'json'], auth: { anonymous: { type: 'static', role: 'backend' } },
        },
      ],
    }],
  };
  const docs = fromCrossbar(docsExample);
  t.same(docs.unsupported, []);
  t.same(docs.config.listeners.map((l) => [l.id, l.port]), [['main', 8080], ['backend', 8090]]);

  const dev = fromCrossbar(devConfig(12345));
  t.same(dev.unsupported, []);
  t.equal(dev.config.listeners[0]!.port, 12345);
  t.equal(dev.config.listeners[0]!.host, '127.0.0.1', 'dev mode binds loopback only');
  t.same(dev.config.realms.map((r) => r.name), ['realm1']);
});

t.test('loadConfigFile: unreadable and invalid files name the file', async (t) => {
  const badJson = write('broken.json', '{ "version": 2, "workers": [ }');
  t.throws(() => loadConfigFile(badJson), ConfigError);
  try { loadConfigFile(badJson); } catch (e) {
    t.ok((e as Error).message.includes(badJson), `names the file: ${(e as Error).message}`);
    t.match((e as Error).message, /JSON/);
  }
  const badYaml = write('broken.yaml', 'version: 2\nworkers: [\n  - type: router\n   bad indent: {');
  try { loadConfigFile(badYaml); t.fail('should throw'); } catch (e) {
    t.ok(e instanceof ConfigError);
    t.ok((e as Error).message.includes(badYaml), 'names the YAML file');
    t.match((e as Error).message, /YAML/);
  }
  const missing = path.join(tmp, 'does-not-exist.json');
  try { loadConfigFile(missing); t.fail('should throw'); } catch (e) {
    t.ok(e instanceof ConfigError);
    t.ok((e as Error).message.includes(missing), 'names the missing file');
  }
  // valid JSON, invalid config: the JSON path
  const badPort = write('badport.json', JSON.stringify(edited((c) => { c.workers[0].transports[0].endpoint.port = '8080'; })));
  t.throws(() => loadConfigFile(badPort), { name: 'ConfigError', message: /workers\[0\]\.transports\[0\]\.endpoint\.port/ });
});

// Issue 14's config traps: mistakes that used to load and fail silently or only when a client joined.
t.test('misspelt keys are errors naming the key they probably mean; other unknown keys stay warnings', async (t) => {
  const base = (edit: (w: Record<string, any>) => void) => {
    const w: Record<string, any> = {
      type: 'router',
      realms: [{ name: 'r', roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: allowAll }] }] }],
      transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 0 } }],
    };
    edit(w);
    return { version: 2, workers: [w] };
  };
  const misspelt: [string, (w: Record<string, any>) => void, RegExp][] = [
    ['permisions', (w) => { w.realms[0].roles[0].permisions = w.realms[0].roles[0].permissions; delete w.realms[0].roles[0].permissions; },
      /^invalid config at workers\[0\]\.realms\[0\]\.roles\[0\]\.permisions: unknown key; did you mean "permissions"\?/],
    ['Permissions (case)', (w) => { w.realms[0].roles[0].Permissions = []; }, /roles\[0\]\.Permissions: unknown key; did you mean "permissions"/],
    ['transprots', (w) => { w.transprots = w.transports; delete w.transports; }, /^invalid config at workers\[0\]\.transprots: unknown key; did you mean "transports"/],
    ['serialziers (swap)', (w) => { w.transports[0].serialziers = ['json']; }, /transports\[0\]\.serialziers: unknown key; did you mean "serializers"/],
    ['max-message-size (dashes)', (w) => { w.transports[0].options = { 'max-message-size': 1024 }; }, /transports\[0\]\.options\.max-message-size: unknown key; did you mean "max_message_size"/],
    ['endpoint.interfce', (w) => { w.transports[0].endpoint.interfce = '127.0.0.1'; }, /endpoint\.interfce: unknown key; did you mean "interface"/],
    ['principal rolle', (w) => { w.transports[0].auth = { ticket: { type: 'static', principals: { bob: { ticket: 's', role: 'anonymous', rolle: 'x' } } } }; }, /principals\.bob\.rolle: unknown key; did you mean "role"/],
  ];
  for (const [name, edit, re] of misspelt) {
    t.throws(() => fromCrossbar(base(edit)), re, name);
    try { fromCrossbar(base(edit)); } catch (e) { t.type(e, ConfigError, `${name}: a ConfigError`); }
  }
  // Keys of Crossbar's own that ClawGate skips, even when close to one it knows, and keys too short to guess from.
  const { unsupported } = fromCrossbar(base((w) => {
    w.transports[0].serializer = 'json';
    w.transports[0].debug = true;
    w.realms[0].store = { type: 'cfxdb' }; // a memory store is supported (issue 20); Crossbar's database store is not
    w.realms[0].roles[0].ab = 1;
  }));
  t.same(unsupported.sort(), ['workers[0].realms[0].roles[0].ab', 'workers[0].realms[0].store.type (store type "cfxdb" is not supported: no event history is kept; use "memory")', 'workers[0].transports[0].debug', 'workers[0].transports[0].serializer'], 'skipped with a warning');
});

t.test('misspelling: edit distance, thresholds, ties', async (t) => {
  const { editDistance, misspelling } = await import('../src/unknown-keys.js');
  t.equal(editDistance('permisions', 'permissions', 2), 1);
  t.equal(editDistance('serialziers', 'serializers', 2), 1, 'a swap of neighbours is one edit');
  t.equal(editDistance('abc', 'xyz', 1), 2, 'gives up past max');
  t.equal(misspelling('permisions', ['name', 'permissions', 'authorizer']), 'permissions');
  t.equal(misspelling('nmae', ['name', 'permissions']), 'name', 'short keys: one edit');
  t.equal(misspelling('nmea', ['name', 'permissions']), undefined, 'short keys: two edits are too many');
  t.equal(misspelling('url', ['uri']), undefined, 'under four characters: never guessed');
  t.equal(misspelling('rolex', ['roles', 'role']), undefined, 'one edit from two keys: not guessed');
  t.equal(misspelling('components', ['name', 'roles', 'options']), undefined, 'a different word');
});

t.test('roles named in auth must exist; a config needs a realm', async (t) => {
  const cfg = (auth: unknown, realms: unknown[] = [{ name: 'r', roles: [{ name: 'player', permissions: [] }] }, { name: 'q', roles: [{ name: 'claw', permissions: [] }] }]) => ({
    version: 2,
    workers: [{ type: 'router', realms, transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 0 }, auth }] }],
  });
  t.doesNotThrow(() => fromCrossbar(cfg({ ticket: { type: 'static', principals: { bob: { ticket: 's', role: 'player' } } } })), 'a role of some realm');
  t.doesNotThrow(() => fromCrossbar(cfg({ cryptosign: { type: 'static', principals: { m1: { authorized_keys: ['a'.repeat(64)], role: 'claw', realm: 'q' } } } })), 'a role of the realm named');
  t.doesNotThrow(() => fromCrossbar(cfg({ ticket: { type: 'dynamic', authenticator: 'com.auth' } })), 'dynamic: roles known at run time only');
  t.doesNotThrow(() => fromCrossbar(cfg(undefined)), 'no auth section: the implicit anonymous role is not checked (Crossbar\'s default)');
  t.throws(() => fromCrossbar(cfg({ ticket: { type: 'static', principals: { bob: { ticket: 's', role: 'plyer' } } } })),
    /^invalid config at workers\[0\]\.transports\[0\]\.auth\.ticket\.principals\.bob\.role: no realm has a role "plyer"$/);
  t.throws(() => fromCrossbar(cfg({ wampcra: { type: 'static', users: { op: { secret: 's', role: 'claw', realm: 'r' } } } })),
    /auth\.wampcra\.users\.op\.role: realm "r" has no role "claw" \(its roles: "player"\)/);
  t.throws(() => fromCrossbar(cfg({ cryptosign: { type: 'static', principals: { m1: { authorized_keys: ['a'.repeat(64)], role: 'claw', realm: 'arcade' } } } })),
    /auth\.cryptosign\.principals\.m1\.role: realm "arcade" is not defined \(realms: "r", "q"\)/);
  t.throws(() => fromCrossbar(cfg({ anonymous: { type: 'static', role: 'guest' } })), /auth\.anonymous\.role: no realm has a role "guest"/);
  t.throws(() => fromCrossbar(cfg({ anonymous: { type: 'static' } })), /auth\.anonymous\.role: no realm has a role "anonymous"/, 'an explicit anonymous section without a role means role "anonymous"');
  t.throws(() => fromCrossbar(cfg({ ticket: { type: 'static', signed: { secret: 'x'.repeat(32), roles: ['player', 'vip'] } } })), /auth\.ticket\.signed\.roles\[1\]: no realm has a role "vip"/);
  t.throws(() => fromCrossbar(cfg(undefined, [])), /^invalid config at workers: no router worker defines a realm/, 'no realm at all');
});

t.test("allow-by-default as Crossbar means it (issue 23)", async (t) => {
  const cfg = (role: Record<string, unknown>) => ({ version: 2, workers: [{ type: 'router', realms: [{ name: 'r', roles: [{ name: 'x', ...role }] }], transports: [] }] });
  const open = fromCrossbar(cfg({ 'allow-by-default': true }));
  t.same(open.config.realms[0]!.roles[0]!.permissions, [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }], 'a role without permissions allows everything');
  t.same(open.unsupported, [], 'no warning');
  t.same(fromCrossbar(cfg({ 'allow-by-default': false })).config.realms[0]!.roles[0]!.permissions, [], 'false: nothing allowed');
  const withPerms = fromCrossbar(cfg({ 'allow-by-default': true, permissions: [{ uri: 'a.', match: 'prefix', allow: { call: true } }] }));
  t.equal(withPerms.config.realms[0]!.roles[0]!.permissions.length, 1, 'with permissions: only those (Crossbar ignores the key then)');
  t.match(withPerms.unsupported.join(' '), /roles\[0\]\.allow-by-default \(no effect: the role has permissions/, 'and says so');
});

t.test('parts ClawGate does not run are skipped with a warning; the messages name the reason (issue 23)', async (t) => {
  const node = (transports: unknown[], extra: Record<string, unknown> = {}) => ({
    version: 2, ...extra,
    workers: [{ type: 'router', realms: [{ name: 'r', roles: [{ name: 'anonymous', permissions: [] }] }], transports }],
  });
  const ws = { type: 'websocket', endpoint: { type: 'tcp', port: 0 } };
  const skipped = fromCrossbar(node([
    { type: 'mqtt', endpoint: { type: 'tcp', port: 1883 }, options: { realm: 'r' } },
    { type: 'flashpolicy', endpoint: { type: 'tcp', port: 843 } },
    { ...ws, auth: { cookie: {}, anonymous: { type: 'static' } } },
    { type: 'websocket', endpoint: { type: 'tcp', port: 0, backlog: 1024, shared: true, version: 4 } },
  ]));
  t.equal(skipped.config.listeners.length, 2, 'the two WAMP transports run');
  t.same(skipped.unsupported.sort(), [
    'workers[0].transports[0] (transport type "mqtt")',
    'workers[0].transports[1] (transport type "flashpolicy")',
    'workers[0].transports[2].auth.cookie (authentication method "cookie")',
  ], 'mqtt, flashpolicy and cookie auth named; backlog, shared and version quiet');
  t.ok(skipped.config.listeners[0]!.websocket.get('*')!.auth.anonymous, 'the cookie method skipped, anonymous still offered');

  t.throws(() => fromCrossbar(node([{ type: 'websokcet', endpoint: { type: 'tcp', port: 0 } }])),
    /^invalid config at workers\[0\]\.transports\[0\]\.type: unknown transport type "websokcet" \(ClawGate runs websocket, rawsocket, universal, web; Crossbar's mqtt and flashpolicy are skipped with a warning\)$/);
  t.equal(fromCrossbar(node([{ type: 'rawsocket', endpoint: { type: 'unix', path: 'crossbar.sock' } }]), { baseDir: '/srv/node' }).config.listeners[0]!.socketPath, '/srv/node/crossbar.sock', 'a Unix socket, relative to the config file\'s folder');
  t.throws(() => fromCrossbar({ workers: [] }), /^invalid config at version: missing\. ClawGate reads Crossbar node configs of version 2/);
  t.throws(() => fromCrossbar({ version: 1, workers: [] }), /^invalid config at version: 1 is not supported\. ClawGate reads Crossbar node configs of version 2$/);
  t.throws(() => fromCrossbar(node([{ ...ws, auth: { ticket: { principals: {} } } }])), /^invalid config at workers\[0\]\.transports\[0\]\.auth\.ticket\.type: missing \(one of "static", "dynamic"\)$/, 'a method we run without its type is an error, not skipped');
});

t.test('require_ip: netmask notation (issue 23)', async (t) => {
  const { cidrError, fromNetmask, IpAllowList } = await import('../src/net/ip-allow.js');
  t.equal(fromNetmask('192.168.1.0/255.255.255.0'), '192.168.1.0/24');
  t.equal(fromNetmask('10.0.0.0/255.0.0.0'), '10.0.0.0/8');
  t.equal(fromNetmask('10.1.2.3/255.255.255.255'), '10.1.2.3/32');
  t.equal(cidrError('192.168.1.1/255.255.255.0'), undefined);
  t.match(cidrError('192.168.1.1/255.0.255.0'), /the netmask 255\.0\.255\.0 is not a run of ones followed by zeros/);
  const list = new IpAllowList(['192.168.1.1/255.255.255.0']);
  t.ok(list.allows('192.168.1.77'), 'inside the /24');
  t.notOk(list.allows('192.168.2.1'), 'outside');
});
