// Hostile clients against the whole system (issue 13), part 1: what a client
// can make the router hold. The system runs as README says (the launcher,
// default limits, short turns); every case runs one attacker, then three at
// once, while a normal player's round trip, a claw's hold release (GPIO
// trace) and the system process's memory are measured, and ends with a
// normal turn. Bounds: harness.ts BOUNDS; per case below.
import t from 'tap';
import { BOUNDS, assertBounds, assertTurn, runCase, sleep, startHostileSystem } from './hostile/harness.js';
import { logAmplifier, retainedControlEvents, retainedGrowth, subscribeFlood } from './hostile/attacks.js';

t.setTimeout(240_000);

/** Log bytes (stdout + stderr, at warn) that all refused SUBSCRIBEs of the log amplifier case may cost together. */
const LOG_BYTES_BOUND = 128 * 1024;

t.test('hostile clients: subscriptions, logs, retained events', async (t) => {
  const sys = await startHostileSystem(t);

  await t.test('1. SUBSCRIBE flood with MiB URIs (match prefix, compressed WebSocket, anonymous)', async (t) => {
    const r = await runCase(t, sys, { caseNo: 1, attack: subscribeFlood, phaseMs: [2500, 2500] });
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  await t.test('8. the log amplifier: refused SUBSCRIBEs with MiB URIs, at log level warn', async (t) => {
    const before = sys.launched.outputBytes();
    const r = await runCase(t, sys, { caseNo: 8, attack: logAmplifier, phaseMs: [2000, 2000] });
    await sleep(500); // what the refusals logged has reached the pipe
    const logged = sys.launched.outputBytes() - before;
    const refused = Number(r.reports[0].refused ?? 0) + Number(r.reports[1].refused ?? 0) + Number(r.reports[0].closedByRouter ?? 0) + Number(r.reports[1].closedByRouter ?? 0);
    t.ok(Number(r.reports[0].sent) > 0 && refused > 0, `the attack was refused (${refused} refusals or closed sessions of ${Number(r.reports[0].sent) + Number(r.reports[1].sent)} SUBSCRIBEs)`);
    t.ok(logged <= LOG_BYTES_BOUND, `the system logged ${logged} bytes while it refused them; bound ${LOG_BYTES_BOUND}`);
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  await t.test('2. retained events of players on control topics, left behind', async (t) => {
    const r = await runCase(t, sys, { caseNo: 2, attack: retainedGrowth, phaseMs: [2500, 2500] });
    // The attackers are gone: nothing of theirs may stay retained. A claw node
    // (claw-2's key) subscribing to its control topics with get_retained sees it.
    const left = await retainedControlEvents({ ep: sys.ep, dataDir: sys.dataDir, machine: 'claw-2' }, 'claw-2');
    t.same(left, [], `no retained control event survives its publisher (found ${left.length}, ${left.reduce((n, e) => n + e.bytes, 0)} bytes)`);
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  t.comment(`bounds: ${JSON.stringify(BOUNDS)}`);
});
