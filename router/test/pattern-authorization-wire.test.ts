// Pattern subscriptions and registrations over real sockets, on the claw
// system's own router config (config/claw-router.yaml): a prefix or
// wildcard SUBSCRIBE/REGISTER is allowed only where a permission covers
// every URI it matches (auth/pattern-authorization.ts; the rules one by one
// in pattern-authorization.test.ts).
import t from 'tap';
import { Wire } from './wire.js';
import { clawLogin, startClawRouter } from './hostile-helpers.js';

const NOT_AUTHORIZED = 'wamp.error.not_authorized';

async function as(port: number, who: Parameters<typeof clawLogin>[1]): Promise<Wire> {
  const w = await Wire.open({ port });
  const welcome = await clawLogin(w, who);
  if (welcome[0] !== 2) throw new Error(`login refused: ${JSON.stringify(welcome)}`);
  return w;
}

/** SUBSCRIBE or REGISTER; resolves with the reply (SUBSCRIBED/REGISTERED or ERROR). */
async function ask(w: Wire, type: 32 | 64, uri: string, match?: 'prefix' | 'wildcard'): Promise<unknown[]> {
  const req = w.request();
  await w.send([type, req, match === undefined ? {} : { match }, uri]);
  return w.take((m) => (m[0] === type + 1 || m[0] === 8) && m[m[0] === 8 ? 2 : 1] === req, `answer to ${type} ${uri}`);
}
const errorUri = (m: unknown[]): string | undefined => (m[0] === 8 ? (m[4] as string) : undefined);

t.test('claw realm: exact grants stay exact, covering grants still work', async (t) => {
  const r = await startClawRouter();
  t.teardown(() => r.stop());
  const bob = await as(r.port, { role: 'player', authid: 'bob' });
  const bobby = await as(r.port, { role: 'player', authid: 'bobby' });
  const backend = await as(r.port, { role: 'backend' });
  const operator = await as(r.port, { role: 'operator' });
  const m1 = await as(r.port, { role: 'claw', authid: 'm1' });
  t.teardown(() => { for (const w of [bob, bobby, backend, operator, m1]) w.close(); });

  await t.test("player bob (exact claw.player.{authid}) can't widen it to claw.player.bobby", async (t) => {
    const own = await ask(bob, 32, 'claw.player.bob');
    t.equal(own[0], 33, 'his own topic, exactly: subscribed');
    const prefix = await ask(bob, 32, 'claw.player.bob', 'prefix');
    t.equal(errorUri(prefix), NOT_AUTHORIZED, 'prefix claw.player.bob: refused');
    t.match(String((prefix[5] as unknown[])[0]), /prefix pattern "claw\.player\.bob": no permission covers every topic it matches/, 'the ERROR says why');
    t.equal(errorUri(await ask(bob, 32, 'claw.player.bob', 'wildcard')), NOT_AUTHORIZED, 'wildcard without wildcard components: refused');
    t.equal(errorUri(await ask(bob, 32, 'claw.player.', 'wildcard')), NOT_AUTHORIZED, 'claw.player.*: refused');
    t.equal(errorUri(await ask(bob, 32, 'claw.machine..control.bob', 'wildcard')), NOT_AUTHORIZED, 'publish-only wildcard grant: no subscription');
    t.equal(errorUri(await ask(bob, 64, 'claw.player.bob', 'prefix')), NOT_AUTHORIZED, 'registering a pattern: refused');
    t.ok(bob.peek((m) => m[0] === 33).length === 0, 'no other SUBSCRIBED came');

    // bobby's private message reaches bobby and nobody else.
    const bobbySub = (await ask(bobby, 32, 'claw.player.bobby'))[2];
    await backend.send([16, backend.request(), { acknowledge: true }, 'claw.player.bobby', [{ secret: 'for bobby' }]]);
    await backend.next(17);
    const ev = await bobby.next(36);
    t.equal(ev[1], bobbySub, 'bobby gets it');
    await backend.send([16, backend.request(), { acknowledge: true }, 'claw.player.bob', [{ hi: 'bob' }]]);
    await backend.next(17);
    const mine = await bob.next(36);
    t.same(mine[4], [{ hi: 'bob' }], "bob gets his own, and it is the first EVENT he got: bobby's never reached him");
  });

  await t.test('covering grants: the claw system keeps working', async (t) => {
    t.equal((await ask(backend, 32, 'claw.machine..status', 'wildcard'))[0], 33, 'backend: claw.machine..status (wildcard rule)');
    t.equal((await ask(backend, 32, 'claw.machine..events', 'wildcard'))[0], 33, 'backend: claw.machine..events');
    t.equal((await ask(backend, 64, 'claw.queue.', 'prefix'))[0], 65, 'backend: register prefix claw.queue. (prefix rule)');
    t.equal(errorUri(await ask(backend, 64, 'claw.', 'prefix')), NOT_AUTHORIZED, 'backend: but not claw.');
    t.equal(errorUri(await ask(backend, 32, 'claw.machine..control.bob', 'wildcard')), NOT_AUTHORIZED, 'backend: no control topics');
    t.equal((await ask(operator, 32, 'claw.player.', 'prefix'))[0], 33, "operator: every player's topic (prefix rule)");
    t.equal((await ask(operator, 32, 'claw.player.bob', 'prefix'))[0], 33, 'operator: a narrower prefix under it');
    t.equal((await ask(m1, 32, 'claw.machine.m1.control.', 'prefix'))[0], 33, 'claw m1: its control topics ({authid} prefix template)');
    t.equal(errorUri(await ask(m1, 32, 'claw.machine.m1.control', 'prefix')), NOT_AUTHORIZED, 'm1: not claw.machine.m1.control (reaches .controlX)');
    t.equal(errorUri(await ask(m1, 32, 'claw.machine.m2.control.', 'prefix')), NOT_AUTHORIZED, "m1: not m2's");
    // claw.machine.{authid}. (prefix) grants register, but more specific rules inside it don't:
    // claw.machine.m1.status (exact: publish only) and claw.machine.m1.control. (prefix: subscribe only).
    t.equal(errorUri(await ask(m1, 64, 'claw.machine.m1.', 'prefix')), NOT_AUTHORIZED,
      'm1: not a registration of claw.machine.m1. (it would get calls to claw.machine.m1.status, which it may not register)');
    t.equal(errorUri(await ask(m1, 64, 'claw.machine.m1..x', 'wildcard')), NOT_AUTHORIZED, 'm1: nor claw.machine.m1.*.x (claw.machine.m1.control.x)');
    t.equal((await ask(m1, 64, 'claw.machine.m1.tools.', 'prefix'))[0], 65, 'm1: register prefix claw.machine.m1.tools.');
    t.equal((await ask(m1, 64, 'claw.machine.m1.tools.', 'wildcard'))[0], 65, 'm1: register wildcard claw.machine.m1.tools.*');
    t.equal(errorUri(await ask(m1, 64, 'claw.machine.m1', 'prefix')), NOT_AUTHORIZED, "m1: not claw.machine.m1 (reaches m10's procedures)");
    t.equal(errorUri(await ask(m1, 64, 'claw.machine..start_turn', 'wildcard')), NOT_AUTHORIZED, "m1: not every machine's start_turn");

    const spectator = await as(r.port, { role: 'spectator' });
    t.teardown(() => spectator.close());
    t.equal((await ask(spectator, 32, 'claw.machine..status', 'wildcard'))[0], 33, 'spectator: every machine status (wildcard rule)');
    t.equal(errorUri(await ask(spectator, 32, 'claw.machine.', 'prefix')), NOT_AUTHORIZED, 'spectator: not claw.machine. (control and events of all)');
  });

  t.ok(r.logs.some((l) => l.msg === 'not authorized' && l.why === 'prefix pattern' && l.authid === 'bob'), 'the refusal is logged with the pattern named');
});
