// Hostile clients against the whole system (issue 13), part 3: admission.
// Thousands of anonymous RawSocket sessions from one address (and from a few
// at once), and slow POST bodies that never finish. While they run, real
// clients of every role still get in, and a normal player's round trip, a
// claw's hold release (GPIO trace) and the system's memory stay within
// harness.ts BOUNDS; a normal turn completes afterwards.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Procedures } from '@clawgate/protocol';
import { readKeyFile } from '@clawgate/claw-node';
import { addresses, assertBounds, assertTurn, runCase, startHostileSystem, type HostileSystem } from './hostile/harness.js';
import { sessionFlood, slowPost } from './hostile/attacks.js';
import { joinWs, mintGuest, type Login } from './hostile/raw-wamp.js';
import { Player } from './hostile/player.js';

t.setTimeout(240_000);

/** Sessions one client address may hold at once. */
const SESSIONS_PER_ADDRESS_BOUND = 1000;
/** A request whose body has not arrived by then is closed by the server. */
const SLOW_BODY_BOUND_MS = 15_000;

/** Everyone who must still get in: a new player (guest login, WAMP ticket, a call), the backend and the operator (WAMP-CRA), a claw (cryptosign). */
async function legitimateClientsGetIn(sys: HostileSystem, address: string): Promise<Record<string, string>> {
  const secrets = JSON.parse(readFileSync(join(sys.dataDir, 'secrets.json'), 'utf8')) as { backendSecret: string; operatorSecret: string };
  const key = readKeyFile(join(sys.dataDir, 'keys', 'claw-2.key'));
  const logins: Record<string, Login> = {
    backend: { method: 'wampcra', authid: 'backend', secret: secrets.backendSecret },
    operator: { method: 'wampcra', authid: 'operator', secret: secrets.operatorSecret },
    claw: { method: 'cryptosign', authid: 'claw-2', publicKey: key.publicKey, sign: (c) => key.sign(c) },
  };
  const out: Record<string, string> = {};
  await Promise.all([
    (async () => {
      try {
        const p = await Player.connect(sys.ep, 'Newcomer', address);
        await p.call(Procedures.queueGet, ['claw-2']);
        await p.close();
        out.player = 'in';
      } catch (e) { out.player = (e as Error).message.slice(0, 200); }
    })(),
    ...Object.entries(logins).map(async ([role, login]) => {
      try {
        const s = await joinWs(sys.ep, { login });
        s.close();
        out[role] = 'in';
      } catch (e) { out[role] = (e as Error).message.slice(0, 200); }
    }),
  ]);
  return out;
}

t.test('hostile clients: admission', async (t) => {
  const sys = await startHostileSystem(t);

  await t.test('6. session flood: thousands of anonymous RawSocket sessions from one address, then from three', async (t) => {
    const inDuring: Record<string, string>[] = [];
    const r = await runCase(t, sys, {
      caseNo: 6, attack: sessionFlood, phaseMs: [5000, 5000],
      atPeak: async (phase) => { inDuring.push(await legitimateClientsGetIn(sys, addresses(6).player(10 + phase))); },
    });
    for (const [i, got] of inDuring.entries()) {
      t.same(got, { player: 'in', backend: 'in', operator: 'in', claw: 'in' }, `while ${i === 0 ? 'one address' : 'three addresses'} held their sessions, a new player, the backend, the operator and a claw all got in`);
    }
    t.ok(Number(r.reports[0].heldMax) <= SESSIONS_PER_ADDRESS_BOUND, `one address held ${r.reports[0].heldMax} sessions at once; bound ${SESSIONS_PER_ADDRESS_BOUND}`);
    t.ok(Number(r.reports[1].heldMax) <= SESSIONS_PER_ADDRESS_BOUND, `three addresses held ${r.reports[1].held} sessions, at most ${r.reports[1].heldMax} from one; bound ${SESSIONS_PER_ADDRESS_BOUND} each`);
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });

  await t.test('7. slow POST bodies to /api/session', async (t) => {
    let during: string | undefined;
    const r = await runCase(t, sys, {
      caseNo: 7, attack: slowPost({ perClient: 100, byteEveryMs: 1000 }), phaseMs: [SLOW_BODY_BOUND_MS + 2000, SLOW_BODY_BOUND_MS + 1000], overlapMs: 1000,
      // Meanwhile a real guest login (the page's first request) works.
      atPeak: async (phase) => {
        if (phase !== 2) return; // both phases are open by then
        try { await mintGuest(sys.ep, 'Patient', { localAddress: addresses(7).player(10) }); during = 'ok'; } catch (e) { during = (e as Error).message; }
      },
    });
    t.equal(during, 'ok', 'a normal POST /api/session succeeds while 400 slow ones are open');
    for (const [i, rep] of r.reports.entries()) {
      t.equal(rep.stillOpenAtEnd, 0, `${i === 0 ? 'one client' : 'three clients'}: every slow POST was closed by the server (${rep.closedByServer} of ${rep.opened}; ${rep.refusedAtOnce} refused at once)`);
      t.ok(Number(rep.keptMsMax) <= SLOW_BODY_BOUND_MS, `${i === 0 ? 'one client' : 'three clients'}: the server kept a slow POST at most ${rep.keptMsMax} ms; bound ${SLOW_BODY_BOUND_MS} ms`);
    }
    assertBounds(t, r.measured);
    assertTurn(t, r);
  });
});
