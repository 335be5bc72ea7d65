// Config validation: errors name the key; secrets by reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BackendConfigError, loadConfigFile, parseConfig } from '../src/config.js';
import { tempDir } from './helpers.js';

const minimal = { router: { url: 'ws://127.0.0.1:8080/ws' }, database: { path: 'db.sqlite' }, tickets: { secret: 's3cret' } };

t.test('defaults', async (t) => {
  const c = parseConfig(minimal, { baseDir: '/srv/claw' });
  t.equal(c.router.realm, 'claw');
  t.same(c.router.auth, { method: 'anonymous' });
  t.equal(c.database.path, '/srv/claw/db.sqlite', 'relative to the config folder');
  t.same(c.defaults, { moveSeconds: 30, readyWindowSeconds: 15, graceSeconds: 120, maxQueue: 50 }, 'the protocol defaults');
  t.equal(c.tickets.ttlSeconds, 14_400);
});

t.test('errors name the key', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ ...minimal, router: { url: 'http://x' } }, /router\.url: must be a ws/],
    [{ ...minimal, defaults: { graceSeconds: -1 } }, /defaults\.graceSeconds/],
    [{ ...minimal, machines: { 'Bad.Id': {} } }, /machines\.Bad\.Id|machine ids/],
    [{ ...minimal, router: { url: 'ws://x', auth: { method: 'wampcra', authid: 'backend' } } }, /router\.auth\.secret/],
    [{ ...minimal, extra: 1 }, /Unrecognized key/],
    [{ ...minimal, tickets: { secret: { env: 'NOPE_NOT_SET' } } }, /tickets\.secret: environment variable NOPE_NOT_SET is not set/],
  ];
  for (const [raw, re] of cases) t.throws(() => parseConfig(raw, { env: {} }), re);
  t.throws(() => parseConfig({}, { env: {} }), BackendConfigError);
});

t.test('secrets from env and file; YAML files', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'ticket.secret'), 'from-file\n');
  writeFileSync(join(dir, 'b.yaml'), [
    'router:', '  url: ws://127.0.0.1:1/ws', '  auth: { method: wampcra, authid: backend, secret: { env: PW } }',
    'database: { path: q.sqlite }', 'tickets: { secret: { file: ticket.secret } }', 'machines: { claw-1: { graceSeconds: 1 } }',
  ].join('\n'));
  const c = loadConfigFile(join(dir, 'b.yaml'), { PW: 'pw' });
  t.same(c.router.auth, { method: 'wampcra', authid: 'backend', secret: 'pw' });
  t.equal(c.tickets.secret, 'from-file', 'file secret without the trailing newline');
  t.equal(c.database.path, join(dir, 'q.sqlite'));
  t.same(c.machines['claw-1'], { graceSeconds: 1 });
  writeFileSync(join(dir, 'broken.json'), '{');
  t.throws(() => loadConfigFile(join(dir, 'broken.json')), /cannot parse/);
});
