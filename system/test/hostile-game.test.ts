// Hostile clients against the whole system (issue 13), part 4: cheating the
// game. Renaming during one's turn to take the next one too; minting guests
// to fill a machine's queue; renewing a ticket that expired days ago. One
// attacker, then several at once; while they run, a normal player's round
// trip, a claw's hold release (GPIO trace) and the system's memory stay
// within harness.ts BOUNDS, and a normal turn completes.
import t from 'tap';
import { Procedures } from '@clawgate/protocol';
import { addresses, assertBounds, assertTurn, normalTurn, runCase, startHostileSystem } from './hostile/harness.js';
import { expiredTicketRenewal, guestMinting, renameMidTurn } from './hostile/attacks.js';
import { Player } from './hostile/player.js';

t.setTimeout(240_000);

/** Guests one address may mint in the attack's burst (~1.5 s, 8 requests at a time). */
const GUESTS_PER_ADDRESS_BOUND = 50;

t.test('hostile clients: the game', async (t) => {
  const sys = await startHostileSystem(t);

  await t.test('3. rename mid-turn, then drop: the player behind is asked next', async (t) => {
    // A normal player queues behind the renaming attackers: behind one it must be
    // asked next (then it leaves); behind two it is asked next and plays its whole turn.
    const victims: string[] = [];
    const r = await runCase(t, sys, {
      caseNo: 3, attack: renameMidTurn, phaseMs: [8000, 14_000], several: 2, noNormalTurn: true,
      atPeak: async (phase) => {
        const address = addresses(3).player(10 + phase);
        try {
          if (phase === 1) {
            const p = await Player.connect(sys.ep, 'Behind1', address);
            try {
              await p.call(Procedures.requestSlot, ['claw-2']);
              await p.waitFor((m) => m.type === 'get_ready' && m.machine === 'claw-2', 12_000, 'get_ready');
              victims.push('asked');
            } finally {
              await p.call(Procedures.leave, ['claw-2']).catch(() => undefined);
              await p.close();
            }
          } else {
            const turn = await normalTurn(sys, 'Behind2', address, 'claw-2', 20_000);
            victims.push(`played: ${turn.result}`);
          }
        } catch (e) {
          victims.push((e as Error).message.slice(0, 300));
        }
      },
    });
    t.same(r.reports[0].turns, [1], `one renaming attacker got exactly one turn (got ${JSON.stringify(r.reports[0].turns)}; results ${JSON.stringify(r.reports[0].results)})`);
    t.same(r.reports[1].turns, [1, 1], `two renaming attackers got exactly one turn each (got ${JSON.stringify(r.reports[1].turns)}; results ${JSON.stringify(r.reports[1].results)})`);
    t.equal(victims[0], 'asked', `the player queued behind one attacker was asked next (${victims[0]})`);
    t.match(victims[1] ?? '', /^played: (win|lose)$/, `the player queued behind two attackers was asked next and played a whole turn: joined, confirmed, steered, dropped, result (${victims[1]})`);
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  await t.test('9. guest minting and queue filling from one address, then from three', async (t) => {
    const joins: string[] = [];
    const r = await runCase(t, sys, {
      caseNo: 9, attack: guestMinting, phaseMs: [3000, 3000],
      // Guests that could not leave in time keep their place for the grace period: the normal turn goes to the other machine.
      turnMachine: 'claw-1',
      // While the attackers hold their places, a real player joins the same machine.
      atPeak: async (phase) => {
        let p: Player | undefined;
        try {
          p = await Player.connect(sys.ep, `Real${phase}`, addresses(9).player(10 + phase));
          await p.call(Procedures.requestSlot, ['claw-2']);
          joins.push('joined');
          await p.call(Procedures.leave, ['claw-2']);
        } catch (e) {
          joins.push(String((e as { error?: string }).error ?? (e as Error).message));
        } finally {
          await p?.close();
        }
      },
    });
    t.same(joins, ['joined', 'joined'], `a real player could join the machine while one address, then three, filled its queue (${JSON.stringify(joins)})`);
    t.ok(Number(r.reports[0].minted) <= GUESTS_PER_ADDRESS_BOUND, `one address minted ${r.reports[0].minted} guests in its burst (${r.reports[0].mintRefused} refused); bound ${GUESTS_PER_ADDRESS_BOUND}`);
    t.ok(Number(r.reports[1].mintedMax) <= GUESTS_PER_ADDRESS_BOUND, `three addresses minted ${r.reports[1].minted} guests, at most ${r.reports[1].mintedMax} from one; bound ${GUESTS_PER_ADDRESS_BOUND} each`);
    t.comment(`queue places taken: one address ${r.reports[0].joined}, three addresses ${r.reports[1].joined} (${JSON.stringify(r.reports[1].joinErrors)})`);
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  await t.test('10. a ticket that expired days ago, posted as the cookie, is not renewed', async (t) => {
    const r = await runCase(t, sys, { caseNo: 10, attack: expiredTicketRenewal, phaseMs: [2000, 2000] });
    for (const [i, rep] of r.reports.entries()) {
      t.equal(rep.renewed, 0, `${i === 0 ? 'one client' : 'three clients'}: no POST /api/session with the expired ticket logged in as its player (${rep.renewed} renewed, ${rep.fresh} got a new identity, ${rep.refused} refused)`);
    }
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });
});
