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
  t.same(c.database, { kind: 'sqlite', path: '/srv/claw/db.sqlite' }, 'relative to the config folder');
  t.same(c.cluster, { leaseSeconds: 3 });
  t.same(c.defaults, { moveSeconds: 30, readyWindowSeconds: 15, graceSeconds: 120, maxQueue: 50 }, 'the protocol defaults');
  t.equal(c.tickets.ttlSeconds, 14_400);
  t.equal(c.tickets.renewWindowSeconds, 600, 'renewal grace: 10 minutes after expiry');
  t.equal(c.tickets.maxChainSeconds, 86_400, 'an identity renews for at most a day');
  t.same(c.guests, {
    mintPerAddress: { burst: 20, perMinute: 10 }, mintTotal: { burst: 200, perMinute: 1200 }, requestsPerAddress: { burst: 30, perMinute: 60 },
    maxTrackedAddresses: 10_000, expireAfterSeconds: 86_400, sweepIntervalSeconds: 300, sweepBatch: 500, queuePlacesPerAddress: 10,
  });
  const h = parseConfig({ ...minimal, http: { port: 0 } }).http!;
  t.same(h, { port: 0, host: '127.0.0.1', trustedProxies: [], requestTimeoutMs: 10_000, headersTimeoutMs: 5_000, idleTimeoutMs: 5_000, maxConnections: 256 });
});

t.test('cross-key rules name the key', async (t) => {
  t.throws(() => parseConfig({ ...minimal, tickets: { secret: 's', ttlSeconds: 7200 }, guests: { expireAfterSeconds: 7200 } }),
    /guests\.expireAfterSeconds: must be more than tickets\.ttlSeconds \+ tickets\.renewWindowSeconds \(7800\)/, 'a valid ticket must always find its row');
  t.throws(() => parseConfig({ ...minimal, tickets: { secret: 's', ttlSeconds: 7200, maxChainSeconds: 3600 } }), /tickets\.maxChainSeconds: must be at least tickets\.ttlSeconds/);
  t.throws(() => parseConfig({ ...minimal, http: { port: 0, requestTimeoutMs: 1000, headersTimeoutMs: 2000 } }), /http\.headersTimeoutMs: must not be more than http\.requestTimeoutMs/);
  t.throws(() => parseConfig({ ...minimal, http: { port: 0, trustedProxies: ['loopback', 'nginx.local'] } }), /http\.trustedProxies\[1\]/);
  t.throws(() => parseConfig({ ...minimal, guests: { mintPerAddress: { burst: 0 } } }), /guests\.mintPerAddress\.burst/);
  t.ok(parseConfig({ ...minimal, http: { port: 0, trustedProxies: ['10.0.0.0/8', 'private', '::1'] } }));
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
  t.same(c.database, { kind: 'sqlite', path: join(dir, 'q.sqlite') });
  t.same(c.machines['claw-1'], { graceSeconds: 1 });
  writeFileSync(join(dir, 'broken.json'), '{');
  t.throws(() => loadConfigFile(join(dir, 'broken.json')), /cannot parse/);
});

t.test('database: SQLite path or PostgreSQL url (password by reference), exactly one; --database overrides', async (t) => {
  const dir = tempDir(t);
  const pg = parseConfig({ ...minimal, database: { url: 'postgres://claw@db.example/claw', password: { env: 'PGPW' }, poolSize: 4 } }, { env: { PGPW: 'from-env' } });
  t.same(pg.database, { kind: 'postgres', url: 'postgres://claw@db.example/claw', password: 'from-env', poolSize: 4, statementTimeoutMs: 5000, connectTimeoutMs: 5000 });
  const noPassword = parseConfig({ ...minimal, database: { url: 'postgresql://claw@db.example/claw' } });
  t.notOk('password' in noPassword.database, 'no password: libpq\'s rules (PGPASSWORD, ~/.pgpass) apply');
  const bad = (database: unknown, env: NodeJS.ProcessEnv = {}) => { try { parseConfig({ ...minimal, database }, { env }); return 'accepted'; } catch (e) { return (e as Error).message; } };
  t.match(bad({ path: 'x.sqlite', url: 'postgres://h/d' }), /^invalid config at database\.url: give either path \(SQLite\) or url \(PostgreSQL\), not both/);
  t.match(bad({}), /^invalid config at database\.path: give either path/);
  t.match(bad({ url: 'mysql://h/d' }), /^invalid config at database\.url: must be a postgres:\/\/ or postgresql:\/\/ URL/);
  t.match(bad({ path: 'x.sqlite', password: 'pw' }), /^invalid config at database\.password: only for PostgreSQL/);
  t.match(bad({ url: 'postgres://h/d', password: { env: 'NOPE' } }), /^invalid config at database\.password: environment variable NOPE is not set/);
  t.match(bad({ url: 'postgres://h/d', poolSize: 1 }), /^invalid config at database\.poolSize/);
  t.match(parseConfig.length >= 1 ? (() => { try { parseConfig({ ...minimal, cluster: { leaseSeconds: 0.5 } }); return 'accepted'; } catch (e) { return (e as Error).message; } })() : '', /^invalid config at cluster\.leaseSeconds/);

  writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...minimal, database: { path: 'q.sqlite', poolSize: 3 } }));
  const over = loadConfigFile(join(dir, 'b.json'), {}, { database: 'postgres://claw@127.0.0.1:5432/claw' });
  t.same(over.database, { kind: 'postgres', url: 'postgres://claw@127.0.0.1:5432/claw', poolSize: 3, statementTimeoutMs: 5000, connectTimeoutMs: 5000 }, 'a URL selects PostgreSQL; the file\'s pool settings stay');
  const file = loadConfigFile(join(dir, 'b.json'), {}, { database: '/var/lib/claw/other.sqlite' });
  t.same(file.database, { kind: 'sqlite', path: '/var/lib/claw/other.sqlite' }, 'anything else is a SQLite file');
});
