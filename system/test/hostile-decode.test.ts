// Hostile clients against the whole system (issue 13), part 2: messages that
// cost far more to take in than to send. A decode bomb before HELLO (CBOR and
// MessagePack, compressed) and one 16 MiB RawSocket frame in small pieces.
// One attacker, then three at once; while they run, a normal player's round
// trip, a claw's hold release (GPIO trace) and the system's memory stay
// within harness.ts BOUNDS, and a normal turn completes afterwards.
import t from 'tap';
import { assertBounds, assertTurn, runCase, startHostileSystem } from './hostile/harness.js';
import { bigRawSocketFrame, decodeBomb } from './hostile/attacks.js';

t.setTimeout(240_000);

t.test('hostile clients: decoding and framing', async (t) => {
  const sys = await startHostileSystem(t);

  await t.test('4. decode bomb before HELLO: CBOR and MessagePack arrays of empty maps over a compressed WebSocket', async (t) => {
    const r = await runCase(t, sys, { caseNo: 4, attack: decodeBomb, phaseMs: [1000, 1000] });
    const closed = [...(r.reports[0].closedAfterMs as number[][]).flat(), ...(r.reports[1].closedAfterMs as number[][]).flat()];
    t.equal(closed.length, 5, 'five bombs sent (two by one attacker, one each by three)');
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  await t.test('5. one 16 MiB RawSocket frame in 4 KiB pieces', async (t) => {
    const r = await runCase(t, sys, { caseNo: 5, attack: bigRawSocketFrame, phaseMs: [2000, 2000] });
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });
});
