// Persistent subscriptions in the realm's durable store (store type
// "sqlite", the event history's file): a router restarted on the same file
// replays what a detached subscription kept before the restart, and keeps
// counting its ttl from when it was detached. Real routers on real ports,
// real SQLite files, autobahn-js and raw frames.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSqlite } from '../src/broker/history-store-driver.js';
import { allowAll, closeAll, login, startAuthRouter, type AuthRouter, type Login } from './auth-helpers.js';
import { sleep } from './helpers.js';
import { Wire, ROLES, type Msg } from './wire.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clawgate-persistent-test-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const newFile = (): string => path.join(tmp, `store-${++files}.db`);

function config(file: string, limits: Record<string, unknown> = {}): unknown {
  const auth = {
    ticket: {
      type: 'static',
      principals: {
        alice: { ticket: 'alice-t', role: 'user' },
        pub: { ticket: 'pub-t', role: 'user' },
      },
    },
  };
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        // No history entries: the store is there for the persistent subscriptions alone.
        store: { type: 'sqlite', path: file },
        options: { limits },
        roles: [{ name: 'user', permissions: [{ uri: '', match: 'prefix', allow: allowAll, disclose: { publisher: true } }] }],
      }],
      transports: [{
        type: 'universal', id: 'test',
        endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
        rawsocket: { auth },
        websocket: { ws: { type: 'websocket', auth } },
        web: { paths: {} },
      }],
    }],
  };
}

function user(r: AuthRouter, authid: string): Promise<Login> {
  return login(r.port, { authmethods: ['ticket'], authid, onchallenge: () => `${authid}-t` }, { serializer: 'cbor' });
}

async function wireUser(r: AuthRouter, authid: string): Promise<Wire> {
  const w = await Wire.open({ port: r.port, serializer: 'cbor' });
  await w.send([1, 'realm1', { ...ROLES, authmethods: ['ticket'], authid }]);
  await w.next(4);
  await w.send([5, `${authid}-t`, {}]);
  const welcome = await w.next();
  if (welcome[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
  return w;
}

interface Listed { name: string; events: number; detached: string | null; expires: string | null; sessions: number[]; x_filter?: string; topic: string; match: string }
const list = async (s: Login): Promise<Listed[]> => await s.session.call('clawgate.persistent.list') as Listed[];
const argsOf = (ms: Msg[]): unknown[] => ms.map((m) => (m[4] as unknown[])[0]);

t.test('kept events survive a restart of the router and are replayed on return', async (t) => {
  const file = newFile();
  const a = await startAuthRouter(config(file));
  const pub = await user(a, 'pub');
  const alice = await user(a, 'alice');
  await alice.session.subscribe('com.store.', () => {}, { match: 'prefix', x_persistent: { name: 'inbox', ttl: 600 } });
  await alice.session.subscribe('com.filtered', () => {}, { x_filter: 'args[0] != "skip"', x_persistent: { name: 'filtered' } });
  closeAll(alice);
  await sleep(200);
  const blob = new Uint8Array([0, 1, 2, 250, 255]);
  for (let i = 1; i <= 3; i++) await pub.session.publish(`com.store.${i}`, [i, blob], { big: 2 ** 53 - 1 }, { acknowledge: true });
  await pub.session.publish('com.filtered', ['skip'], {}, { acknowledge: true });
  await pub.session.publish('com.filtered', ['keep'], {}, { acknowledge: true });
  const before = await list(pub);
  closeAll(pub);
  await a.stop();

  const b = await startAuthRouter(config(file));
  t.teardown(() => b.stop());
  const pub2 = await user(b, 'pub');
  t.teardown(() => closeAll(pub2));
  const after = await list(pub2);
  t.same(after.map((p) => [p.name, p.topic, p.match, p.events, p.x_filter]), [['filtered', 'com.filtered', 'exact', 1, 'args[0] != "skip"'], ['inbox', 'com.store.', 'prefix', 3, undefined]], 'both back, detached, with what they kept');
  t.same(after.map((p) => [p.detached, p.expires]), before.map((p) => [p.detached, p.expires]), 'their ttl counts from when they were detached, not from the restart');

  const w = await wireUser(b, 'alice');
  t.teardown(() => w.close());
  const sub = await w.subscribe('com.store.', { match: 'prefix', x_persistent: { name: 'inbox' } });
  const replayed = [await w.next(36), await w.next(36), await w.next(36)];
  t.same(argsOf(replayed), [1, 2, 3], 'in order');
  for (const [i, m] of replayed.entries()) {
    t.equal(m[1], sub);
    const details = m[3] as Record<string, unknown>;
    t.equal(details.x_replayed, true);
    t.equal(details.topic, `com.store.${i + 1}`, 'the topic of a pattern subscription');
    t.equal(details.publisher_authid, 'pub', 'the disclosed publisher');
    t.same(Buffer.from((m[4] as unknown[])[1] as Uint8Array).toString('hex'), '000102faff', 'binary values as they were');
    t.equal((m[5] as Record<string, unknown>).big, 2 ** 53 - 1, 'large integers as they were');
  }
  const fsub = await w.subscribe('com.filtered', { x_filter: 'args[0] != "skip"', x_persistent: { name: 'filtered' } });
  const kept = await w.next(36);
  t.same([kept[1], argsOf([kept])[0]], [fsub, 'keep'], 'the filtered one: what passed its filter');
  const now = await list(pub2);
  t.same(now.map((p) => [p.events, p.sessions.length]), [[0, 1], [0, 1]], 'held again, nothing kept');

  // Replayed events are gone from the file too: a third router replays nothing.
  w.close();
  await sleep(200);
  closeAll(pub2);
  await b.stop();
  const c = await startAuthRouter(config(file));
  t.teardown(() => c.stop());
  const w2 = await wireUser(c, 'alice');
  t.teardown(() => w2.close());
  await w2.subscribe('com.store.', { match: 'prefix', x_persistent: { name: 'inbox' } });
  await sleep(200);
  t.same(w2.peek((m) => m[0] === 36), [], 'nothing replayed twice');
});

t.test('held when the router stopped: detached at the next start; expired ones and lowered bounds', async (t) => {
  const file = newFile();
  const a = await startAuthRouter(config(file));
  const alice = await user(a, 'alice');
  const pub = await user(a, 'pub');
  await alice.session.subscribe('com.held', () => {}, { x_persistent: { name: 'held', ttl: 600 } });
  await alice.session.subscribe('com.short', () => {}, { x_persistent: { name: 'short', ttl: 1 } });
  await alice.session.subscribe('com.many', () => {}, { x_persistent: { name: 'many', ttl: 600 } });
  closeAll(alice);
  await sleep(200);
  for (let i = 1; i <= 5; i++) await pub.session.publish('com.many', [i], {}, { acknowledge: true });
  // Held by a session at the stop (the GOODBYE detaches it, then the file is closed).
  const again = await user(a, 'alice');
  await again.session.subscribe('com.held', () => {}, { x_persistent: { name: 'held' } });
  closeAll(pub);
  await a.stop();
  await sleep(1200); // 'short' runs out while the router is down

  const b = await startAuthRouter(config(file, { max_persistent_events: 2 }));
  t.teardown(() => b.stop());
  const pub2 = await user(b, 'pub');
  t.teardown(() => closeAll(pub2));
  const after = await list(pub2);
  t.same(after.map((p) => p.name), ['held', 'many'], 'the one whose ttl ran out while the router was down is gone');
  t.ok(after.every((p) => p.detached !== null && p.sessions.length === 0), 'all detached');
  t.equal(after.find((p) => p.name === 'many')!.events, 2, 'a lowered max_persistent_events applies to what the file had');
  await pub2.session.publish('com.held', ['after restart'], {}, { acknowledge: true });
  const w = await wireUser(b, 'alice');
  t.teardown(() => w.close());
  const many = await w.subscribe('com.many', { x_persistent: { name: 'many' } });
  const got = [await w.next(36), await w.next(36)];
  t.same(argsOf(got), [4, 5], 'the newest two');
  t.equal(got[0]![1], many);
  const held = await w.subscribe('com.held', { x_persistent: { name: 'held' } });
  const h = await w.next(36);
  t.same([h[1], argsOf([h])[0]], [held, 'after restart'], 'kept after the restart');

  // The file itself: the subscriptions' rows and no leftover events.
  const Database = loadSqlite();
  w.close();
  closeAll(pub2);
  await b.stop();
  const db = new Database(file);
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT name, detached_at FROM persistent_subscription ORDER BY name').all() as { name: string; detached_at: number | null }[];
  t.same(rows.map((r) => r.name), ['held', 'many']);
  t.ok(rows.every((r) => typeof r.detached_at === 'number'), 'detached at the stop');
  t.same(db.prepare('SELECT COUNT(*) AS n FROM persistent_event').get(), { n: 0 }, 'replayed events deleted');
});
