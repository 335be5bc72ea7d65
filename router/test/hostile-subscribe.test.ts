// The subscription flood (issue 13, attack 1): an anonymous spectator, over
// a compressed WebSocket, kept sending SUBSCRIBEs to
// `claw.machine.<8 MiB id>.status` (its wildcard permission allows any id)
// and ran the whole process out of heap in 83 s. Now: a message over
// max_message_size is refused whatever it compresses to (permessage-deflate
// input is bounded after decompression, and the router stops inflating
// there); a URI over max_uri_length is refused with invalid_uri before it is
// held or matched; SUBSCRIBE has a rate and a count per session and per
// realm. Asserted: the heap grows by less than MAX_HEAP_GROWTH however long
// the flood goes on, while one client and several at once flood; another
// session's round trips stay under MAX_ROUND_TRIP_MS.
import t from 'tap';
import zlib from 'node:zlib';
import { Wire } from './wire.js';
import { startHostileRouter, heapUsed, probeWhile, stallMonitor, MiB } from './hostile-helpers.js';
import { testConfig, within } from './helpers.js';

const MAX_HEAP_GROWTH = 64 * MiB;
const MAX_ROUND_TRIP_MS = 500;

/** The spectator's rights in the claw realm: watch any machine's status, and the probe's meta call. */
const spectatorRealm = (limits: Record<string, unknown> = {}) => ({
  name: 'realm1',
  options: { limits },
  roles: [{
    name: 'anonymous',
    permissions: [
      { uri: 'claw.machine..status', match: 'wildcard', allow: { subscribe: true } },
      { uri: 'wamp.session.count', match: 'exact', allow: { call: true } },
    ],
  }],
});

/** One WebSocket frame as a client writes it: FIN, RSV1 (compressed) when asked, masked. */
function wsFrame(payload: Buffer, opcode: number, compressed: boolean): Buffer {
  const head: number[] = [0x80 | (compressed ? 0x40 : 0) | opcode];
  if (payload.length < 126) head.push(0x80 | payload.length);
  else if (payload.length < 65536) head.push(0x80 | 126, payload.length >> 8, payload.length & 255);
  else { head.push(0x80 | 127, 0, 0, 0, 0); const n = payload.length; head.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255); }
  const mask = [0x12, 0x34, 0x56, 0x78];
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([Buffer.from(head), Buffer.from(mask), masked]);
}

/** permessage-deflate payload: raw deflate, sync-flushed, without the trailing 00 00 ff ff. */
function deflated(data: Buffer): Buffer {
  const d = zlib.deflateRawSync(data, { flush: zlib.constants.Z_SYNC_FLUSH });
  return d.subarray(0, d.length - 4);
}

t.test('subscription flood', async (t) => {
  const r = await startHostileRouter(testConfig({ realms: [spectatorRealm()] }));
  t.teardown(() => r.stop());

  await t.test('a compressed message that inflates past max_message_size is refused without inflating it all', async (t) => {
    const c = await Wire.open({ kind: 'ws', port: r.port, compress: true });
    await c.join();
    t.ok(/permessage-deflate/.test(c.ws!.extensions), 'permessage-deflate was negotiated');
    // 200 MiB of a SUBSCRIBE's URI, deflated to ~200 KiB: under max_message_size (256 KiB) on the wire.
    const huge = Buffer.concat([Buffer.from('[32,1,{},"claw.machine.'), Buffer.alloc(200 * MiB, 0x41), Buffer.from('.status"]')]);
    const payload = deflated(huge);
    t.ok(payload.length < 256 * 1024, `the compressed message is ${payload.length} bytes`);
    const ext0 = process.memoryUsage().arrayBuffers;
    const heap0 = heapUsed();
    c.socket.write(wsFrame(payload, 0x1, true));
    const abort = await c.next(3, 10_000);
    t.match((abort[1] as { message: string }).message, /larger than max_message_size \(262144 bytes\)/, 'ABORT names the limit');
    const ended = await within(c.closed, 5000, 'closed');
    t.equal(ended.code, 1009, 'close code 1009');
    const grew = process.memoryUsage().arrayBuffers - ext0;
    t.ok(grew < 32 * MiB, `buffers grew by ${(grew / MiB).toFixed(1)} MiB, not the 200 MiB it inflates to`);
    t.ok(heapUsed() - heap0 < 32 * MiB, 'nor did the heap');
  });

  await t.test('URIs of 8 MiB (the issue\'s): refused as oversize messages, however well they compress', async (t) => {
    const c = await Wire.open({ kind: 'ws', port: r.port, compress: true });
    await c.join();
    c.send([32, 1, { match: 'exact' }, `claw.machine.${'A'.repeat(8 * MiB)}.status`]);
    const abort = await c.next(3, 10_000);
    t.match((abort[1] as { message: string }).message, /max_message_size/);
    await within(c.closed, 5000, 'closed');
  });

  await t.test('URIs just under max_message_size: invalid_uri, nothing held, short error', async (t) => {
    const c = await Wire.open({ kind: 'ws', port: r.port, compress: true });
    await c.join();
    const heap0 = heapUsed();
    const uri = `claw.machine.${'B'.repeat(200 * 1024)}.status`;
    let refused = 0;
    let rateLimited = 0;
    for (let i = 1; i <= 600; i++) {
      c.send([32, i, {}, uri]);
      if (i % 50 === 0) await new Promise((res) => setTimeout(res, 5));
    }
    for (let i = 1; i <= 600; i++) {
      const e = await c.next(8, 10_000);
      if (e[4] === 'wamp.error.invalid_uri') {
        refused++;
        if (refused === 1) {
          const msg = (e[5] as string[])[0]!;
          t.match(msg, `topic URI of ${uri.length} characters is longer than max_uri_length (512)`, 'the error says why');
          t.ok(msg.length < 300, `and quotes the URI cut short (${msg.length} characters)`);
        }
      } else if (e[4] === 'clawgate.error.rate_limited') rateLimited++;
    }
    // Those past the subscribe rate's burst (500) may be answered rate_limited instead, depending on timing.
    t.equal(refused + rateLimited, 600, `every SUBSCRIBE answered: ${refused} invalid_uri, ${rateLimited} rate limited`);
    t.equal(r.router.realm('realm1')!.broker.subscriptionsHeld, 0, 'nothing is held');
    t.ok(heapUsed() - heap0 < MAX_HEAP_GROWTH, `the heap grew by less than ${MAX_HEAP_GROWTH / MiB} MiB (120 MiB of URIs arrived)`);
    c.close();
  });
});

t.test('subscription counts and rates: one client and several, on the claw-like realm', async (t) => {
  const r = await startHostileRouter(testConfig({
    realms: [spectatorRealm({ max_subscriptions: 100, max_total_subscriptions: 250, subscribe_rate: { rate: 1000, burst: 1000 } })],
  }));
  t.teardown(() => r.stop());
  const broker = r.router.realm('realm1')!.broker;

  /** Subscribes `n` distinct machines' status (max-length URIs); resolves with the answers by kind. */
  const flood = async (c: Wire, n: number, tag: string): Promise<Record<string, number>> => {
    const id = tag.padEnd(480, 'x');
    for (let i = 1; i <= n; i++) c.send([32, i, {}, `claw.machine.${id}${i}.status`]);
    const out: Record<string, number> = {};
    for (let i = 1; i <= n; i++) {
      const m = await c.next(undefined, 10_000);
      const k = m[0] === 33 ? 'subscribed' : String(m[4]);
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  };

  await t.test('one client: max_subscriptions', async (t) => {
    const c = await Wire.open({ kind: 'ws', port: r.port, compress: true });
    await c.join();
    const got = await flood(c, 150, 'a');
    t.same(got, { subscribed: 100, 'clawgate.error.too_many_subscriptions': 50 }, '100 held, the rest refused');
    t.equal(broker.subscriptionsHeld, 100);
    c.close();
    await within((async () => { while (broker.subscriptionsHeld > 0) await new Promise((res) => setTimeout(res, 20)); })(), 5000, 'released on leave');
  });

  await t.test('five clients at once: max_total_subscriptions holds the realm, another session is served', async (t) => {
    const heap0 = heapUsed();
    const stall = stallMonitor();
    const clients = await Promise.all(Array.from({ length: 5 }, async () => {
      const c = await Wire.open({ kind: 'ws', port: r.port, compress: true });
      await c.join();
      return c;
    }));
    const attack = Promise.all(clients.map((c, i) => flood(c, 150, `c${i}`)));
    const probe = probeWhile(r.port, attack);
    const results = await attack;
    const maxStall = stall.stop();
    const { maxMs } = await probe;
    const subscribed = results.reduce((n, x) => n + (x.subscribed ?? 0), 0);
    t.equal(subscribed, 250, 'the realm holds at most max_total_subscriptions');
    t.equal(broker.subscriptionsHeld, 250);
    t.ok(results.every((x) => (x.subscribed ?? 0) <= 100), 'and no session more than max_subscriptions');
    t.ok(maxMs < MAX_ROUND_TRIP_MS, `another session's round trips stayed under ${MAX_ROUND_TRIP_MS} ms (longest ${maxMs.toFixed(1)} ms; loop stall ${maxStall.toFixed(1)} ms)`);
    t.ok(heapUsed() - heap0 < MAX_HEAP_GROWTH, `the heap grew by less than ${MAX_HEAP_GROWTH / MiB} MiB`);
    t.ok(r.router.limitCounters.subscriptionsRefused >= 500, 'refusals are counted');
    for (const c of clients) c.close();
  });

  await t.test('SUBSCRIBE/UNSUBSCRIBE churn is rate limited', async (t) => {
    const r2 = await startHostileRouter(testConfig({ realms: [spectatorRealm({ subscribe_rate: { rate: 10, burst: 20 } })] }));
    t.teardown(() => r2.stop());
    const c = await Wire.open({ kind: 'raw', port: r2.port });
    await c.join();
    let limited = 0;
    let ok = 0;
    for (let i = 1; i <= 30; i++) {
      c.send([32, c.request(), {}, 'claw.machine.m1.status']);
      const m = await c.next(undefined, 5000);
      if (m[0] === 33) {
        ok++;
        c.send([34, c.request(), m[2]]);
        const u = await c.next(undefined, 5000);
        if (u[0] === 8) { limited++; t.equal(u[4], 'clawgate.error.rate_limited', 'UNSUBSCRIBE shares the bucket'); }
      } else {
        limited++;
        t.equal(m[4], 'clawgate.error.rate_limited');
        t.ok(typeof (m[6] as { retry_after_ms?: number }).retry_after_ms === 'number', 'with retry_after_ms');
      }
    }
    t.ok(ok <= 20 && limited > 0, `${ok} subscribes went through, ${limited} refused by the rate`);
    t.ok(r2.router.limitCounters.subscribeRateLimited > 0, 'counted (subscribe_rate_limited)');
    c.close();
  });
});
