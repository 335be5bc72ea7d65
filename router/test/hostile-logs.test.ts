// The log amplifier (issue 13, attack 7): three refused SUBSCRIBEs (12 KiB on
// a compressed wire) wrote 12 MiB of log, because every refusal was logged
// at warn with the whole URI. Now a refusal is logged once per session and
// kind (not_authorized: per action), with URIs cut to 100 characters and
// their length, and every refusal is counted in /metrics. Asserted on the
// router's own pino output at the production level (info): log bytes stay
// under a bound that does not grow with the number of refusals, and the
// counters count them all; one client, and several at once.
import t from 'tap';
import { Wire } from './wire.js';
import { startHostileRouter, MiB } from './hostile-helpers.js';
import { testConfig } from './helpers.js';

/** Per session: a handful of lines (joined, refused per kind and action, left), each well under 1 KiB. */
const LOG_BYTES_PER_SESSION = 8 * 1024;

const realm = {
  name: 'realm1',
  options: { limits: { subscribe_rate: null, publish_rate: null, call_rate: null } },
  roles: [{
    name: 'anonymous',
    permissions: [
      { uri: 'claw.machine..status', match: 'wildcard', allow: { subscribe: true } },
      { uri: 'wamp.session.count', match: 'exact', allow: { call: true } },
    ],
  }],
};

t.test('refusals do not turn into log volume', async (t) => {
  const r = await startHostileRouter(testConfig({ realms: [realm] }));
  t.teardown(() => r.stop());

  await t.test('the issue\'s three SUBSCRIBEs with megabyte URIs', async (t) => {
    const before = r.logBytes();
    for (let i = 0; i < 3; i++) {
      const c = await Wire.open({ kind: 'ws', port: r.port, compress: true });
      await c.join();
      // 4 MiB: over max_message_size, so the session ends. 200 KiB: refused as too long.
      c.send([32, 1, {}, `claw.player.${'A'.repeat(200 * 1024)}`]);
      t.equal((await c.next(8, 5000))[4], 'wamp.error.invalid_uri');
      c.send([32, 2, {}, `claw.player.${'A'.repeat(4 * MiB)}`]);
      await c.next(3, 5000);
      await c.closed;
    }
    const written = r.logBytes() - before;
    t.ok(written < 3 * LOG_BYTES_PER_SESSION, `${written} bytes of log for three sessions (it was 12 MiB)`);
    t.notOk(r.logs.some((l) => JSON.stringify(l).length > 2000), 'no log line is longer than 2000 characters');
    const refused = r.logs.filter((l) => l.msg === 'URI too long');
    t.equal(refused.length, 3, 'each session logged its too-long URI once');
    t.match(refused[0], { uri: /^claw\.player\.A{88}… \(204812 characters\)$/, uri_length: 204812 }, 'the URI cut to 100 characters, with its length');
  });

  await t.test('a thousand refusals from one session: a few lines, all counted', async (t) => {
    const before = r.logBytes();
    const counted = r.router.limitCounters.notAuthorized;
    const c = await Wire.open({ kind: 'raw', port: r.port });
    await c.join();
    const uri = `claw.player.${'B'.repeat(400)}`;
    for (let i = 1; i <= 1000; i++) {
      c.send([32, i, {}, `${uri}${i}`]); // not authorized (only machines' status may be watched)
    }
    for (let i = 1; i <= 1000; i++) await c.next(8, 5000);
    for (let i = 1; i <= 100; i++) c.send([48, 1000 + i, {}, 'claw.secret.proc']); // request ids go on from the SUBSCRIBEs'
    for (let i = 1; i <= 100; i++) await c.next(8, 5000);
    c.close();
    await c.closed;
    await new Promise((res) => setTimeout(res, 50));
    const written = r.logBytes() - before;
    t.ok(written < LOG_BYTES_PER_SESSION, `${written} bytes of log for 1,100 refusals`);
    const lines = r.logs.filter((l) => l.msg === 'not authorized' && l.session !== undefined);
    t.ok(lines.length >= 2, 'the first refusal of each action is logged');
    t.equal(r.router.limitCounters.notAuthorized - counted, 1100, 'every refusal is counted');
    const metrics = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
    t.match(metrics, /clawgate_limit_events_total\{kind="not_authorized"\} 1100/, 'and exposed in /metrics');
    t.match(metrics, /clawgate_limit_events_total\{kind="logs_suppressed"\} \d+/, 'with the lines left out');
  });

  await t.test('twenty clients at once, each refused 200 times', async (t) => {
    const before = r.logBytes();
    const clients = await Promise.all(Array.from({ length: 20 }, async () => { const w = await Wire.open({ kind: 'ws', port: r.port, compress: true }); await w.join(); return w; }));
    await Promise.all(clients.map(async (w) => {
      for (let i = 1; i <= 200; i++) w.send([16, i, { acknowledge: true }, `claw.machine.m1.control.${'C'.repeat(300)}`, ['x']]);
      for (let i = 1; i <= 200; i++) await w.next(8, 10_000);
      w.close();
    }));
    await new Promise((res) => setTimeout(res, 50));
    const written = r.logBytes() - before;
    t.ok(written < 20 * LOG_BYTES_PER_SESSION, `${written} bytes of log for 4,000 refusals from 20 sessions`);
  });
});
