// Dynamic authorizers (Crossbar's role `authorizer`): the router asks a
// procedure `(session, uri, action, options)` per action; bool or
// {allow, disclose, cache}; errors and timeouts deny; order is kept.
import t from 'tap';
import { WampError } from '../src/index.js';
import { parseAuthorizerAnswer } from '../src/auth/authorizer.js';
import { authConfig, closeAll, login, startAuthRouter, type AuthRouter } from './auth-helpers.js';
import { errorOf, eventually } from './helpers.js';

t.test('authorizer answers (unit)', async (t) => {
  t.same(parseAuthorizerAnswer(true), { decision: { allow: true, disclose: false }, cache: false });
  t.same(parseAuthorizerAnswer(false), { decision: { allow: false, disclose: false }, cache: false });
  t.same(parseAuthorizerAnswer({ allow: true, disclose: true, cache: true }), { decision: { allow: true, disclose: true }, cache: true });
  t.same(parseAuthorizerAnswer({ allow: false, disclose: true }), { decision: { allow: false, disclose: false }, cache: false }, 'no disclosure without allow');
  for (const bad of [null, 1, 'yes', [], {}, { allow: 'true' }, { allow: true, cache: 'yes' }, { allow: true, disclose: 1 }]) {
    t.equal(parseAuthorizerAnswer(bad), undefined, `${JSON.stringify(bad)} is not an answer`);
  }
});

interface Ask { session: Record<string, unknown>; uri: string; action: string; options: Record<string, unknown> }

async function setup(t: { teardown(fn: () => unknown): void }, realmOptions: Record<string, unknown> = {}): Promise<{ r: AuthRouter; asks: Ask[]; set: (fn: (a: Ask) => unknown) => void }> {
  const r = await startAuthRouter(authConfig({
    auth: {
      ticket: { type: 'static', principals: { carol: { ticket: 'c', role: 'dyn' }, dave: { ticket: 'd', role: 'dyn' }, svc: { ticket: 's', role: 'service' } } },
    },
    realms: [{
      name: 'realm1',
      options: realmOptions,
      roles: [
        { name: 'dyn', authorizer: 'com.example.authorize' },
        { name: 'service', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] },
        { name: 'authz', permissions: [{ uri: 'com.example.authorize', match: 'exact', allow: { register: true } }] },
      ],
    }],
  }));
  t.teardown(() => r.stop());
  const asks: Ask[] = [];
  let decide: (a: Ask) => unknown = () => false;
  const authz = await r.router.localSession('realm1', { authrole: 'authz', authid: 'authorizer' });
  t.teardown(() => authz.close());
  await authz.register('com.example.authorize', (args) => {
    const a: Ask = { session: args[0] as Record<string, unknown>, uri: args[1] as string, action: args[2] as string, options: args[3] as Record<string, unknown> };
    asks.push(a);
    return decide(a);
  });
  return { r, asks, set: (fn) => { decide = fn; } };
}

const ticket = (authid: string, tk: string) => ({ authmethods: ['ticket'], authid, onchallenge: () => tk });

t.test('the authorizer decides each action; errors and nonsense deny', async (t) => {
  const { r, asks, set } = await setup(t);
  const carol = await login(r.port, ticket('carol', 'c'));
  const svc = await login(r.port, ticket('svc', 's'));
  t.teardown(() => closeAll(carol, svc));
  const invocations: Record<string, unknown>[] = [];
  await svc.session.register('com.app.echo', (args: unknown[], _k: unknown, details: Record<string, unknown>) => { invocations.push(details); return args[0]; });

  set((a) => a.uri.startsWith('com.app.'));
  t.equal(await carol.session.call('com.app.echo', ['hi'], {}, { timeout: 5000 }), 'hi', 'allowed');
  const ask = asks.at(-1)!;
  t.equal(ask.uri, 'com.app.echo');
  t.equal(ask.action, 'call');
  t.equal(ask.session.authid, 'carol', 'session details: authid');
  t.equal(ask.session.authrole, 'dyn');
  t.equal(ask.session.session, carol.session.id);
  t.equal(ask.options.timeout, 5000, 'the CALL options are passed on');
  t.equal(invocations.at(-1)!.caller_authid, undefined, 'no disclosure by default');

  t.equal(await errorOf(carol.session.call('com.other.x')), 'wamp.error.not_authorized', 'denied');
  t.equal(await errorOf(carol.session.register('com.other.y', () => 1)), 'wamp.error.not_authorized');
  t.equal(await errorOf(carol.session.subscribe('com.other.z', () => {})), 'wamp.error.not_authorized');
  t.equal(await errorOf(carol.session.publish('com.other.z', [], {}, { acknowledge: true })), 'wamp.error.not_authorized');
  t.same(asks.slice(-4).map((a) => a.action), ['call', 'register', 'subscribe', 'publish'], 'every action is asked');

  set((a) => ({ allow: true, disclose: a.action === 'call' }));
  t.equal(await carol.session.call('com.app.echo', ['d']), 'd');
  t.equal(invocations.at(-1)!.caller_authid, 'carol', 'disclose: true discloses the caller');

  set(() => { throw new WampError('com.example.boom', ['no']); });
  t.equal(await errorOf(carol.session.call('com.app.echo', ['x'])), 'wamp.error.not_authorized', 'an authorizer error denies');
  set(() => 'yes');
  t.equal(await errorOf(carol.session.call('com.app.echo', ['x'])), 'wamp.error.not_authorized', 'a nonsense answer denies');
  set(() => ({ allow: true, disclose: true }));
  t.equal(await errorOf(carol.session.publish('com.app.t', [], {}, { acknowledge: true, disclose_me: true })), 'resolved', 'disclose_me allowed when the authorizer discloses');
  set(() => ({ allow: true }));
  t.equal(await errorOf(carol.session.publish('com.app.t', [], {}, { acknowledge: true, disclose_me: true })), 'wamp.error.option_disallowed.disclose_me', 'and refused when it does not');
  t.ok(r.logs.some((l) => l.msg === 'authorizer failed: denied'), 'authorizer failure logged');
  t.ok(r.logs.some((l) => l.msg === 'not authorized' && l.authid === 'carol' && l.uri === 'com.other.x'), 'denial logged');
});

t.test('cache: true is remembered per session, uri and action', async (t) => {
  const { r, asks, set } = await setup(t);
  const carol = await login(r.port, ticket('carol', 'c'));
  const dave = await login(r.port, ticket('dave', 'd'));
  t.teardown(() => closeAll(carol, dave));
  set((a) => ({ allow: true, cache: a.uri === 'com.cached' }));
  for (let i = 0; i < 3; i++) await carol.session.publish('com.cached', [i], {}, { acknowledge: true });
  t.equal(asks.filter((a) => a.uri === 'com.cached').length, 1, 'asked once for three publishes');
  for (let i = 0; i < 3; i++) await carol.session.publish('com.uncached', [i], {}, { acknowledge: true });
  t.equal(asks.filter((a) => a.uri === 'com.uncached').length, 3, 'asked each time without cache');
  await carol.session.subscribe('com.cached', () => {});
  t.equal(asks.filter((a) => a.uri === 'com.cached').length, 2, 'another action is asked anew');
  set(() => false);
  t.equal(await errorOf(dave.session.publish('com.cached', [], {}, { acknowledge: true })), 'wamp.error.not_authorized', "carol's cached allow is not dave's");
});

t.test('no authorizer registered, or one that never answers: denied', async (t) => {
  const { r, set } = await setup(t, { authorizer_timeout: 300 });
  const carol = await login(r.port, ticket('carol', 'c'));
  t.teardown(() => closeAll(carol));
  set(() => new Promise(() => { /* never */ }));
  const t0 = Date.now();
  t.equal(await errorOf(carol.session.call('com.app.echo')), 'wamp.error.not_authorized', 'timeout denies');
  t.ok(Date.now() - t0 >= 250, 'after the authorizer timeout');
  t.ok(r.logs.some((l) => l.msg === 'authorizer failed: denied' && String(l.err).includes('timed out')), 'the timeout is logged');
});

t.test('an unregistered authorizer denies', async (t) => {
  const r = await startAuthRouter(authConfig({
    auth: { ticket: { type: 'static', principals: { carol: { ticket: 'c', role: 'dyn' } } } },
    roles: [{ name: 'dyn', authorizer: 'com.example.nobody' }],
  }));
  t.teardown(() => r.stop());
  const carol = await login(r.port, ticket('carol', 'c'));
  t.teardown(() => closeAll(carol));
  t.equal(await errorOf(carol.session.subscribe('com.x', () => {})), 'wamp.error.not_authorized');
});

t.test("a session's messages keep their order while the authorizer thinks", async (t) => {
  const { r, set } = await setup(t);
  const carol = await login(r.port, ticket('carol', 'c'));
  const svc = await login(r.port, ticket('svc', 's'));
  t.teardown(() => closeAll(carol, svc));
  const got: number[] = [];
  await svc.session.subscribe('com.order.', (args: unknown[]) => got.push(args[0] as number), { match: 'prefix' });
  // slow decisions for even topics, instant cached ones for odd topics
  set((a) => {
    const n = Number(a.uri.split('.').pop());
    if (n % 2 === 1) return { allow: true, cache: true };
    return new Promise((res) => setTimeout(() => res(true), 30 + (n % 3) * 20));
  });
  await carol.session.publish('com.order.1', [-1], {}, { acknowledge: true }); // warm the cache for odd topics
  await carol.session.publish('com.order.3', [-3], {}, { acknowledge: true });
  await eventually(() => got.includes(-1) && got.includes(-3), 5000, 'warm-up events');
  got.length = 0;
  const N = 12;
  for (let i = 0; i < N; i++) carol.session.publish(`com.order.${i % 4}`, [i], {}, { acknowledge: i === N - 1 });
  await eventually(() => got.length === N, 10_000, 'all events');
  t.same(got, [...Array(N).keys()], 'events arrive in the order published');
});

t.test("meta API: a testament is authorized by the session's authorizer", async (t) => {
  const { r, set } = await setup(t);
  const carol = await login(r.port, ticket('carol', 'c'));
  const svc = await login(r.port, ticket('svc', 's'));
  t.teardown(() => closeAll(svc));
  const got: unknown[] = [];
  await svc.session.subscribe('com.will', (args: unknown[]) => got.push(args[0]));
  set((a) => a.uri === 'wamp.session.add_testament' || a.uri === 'com.will');
  await carol.session.call('wamp.session.add_testament', ['com.will', ['bye'], {}]);
  t.equal(await errorOf(carol.session.call('wamp.session.add_testament', ['com.nope', ['x'], {}])), 'wamp.error.not_authorized');
  carol.connection.close();
  await eventually(() => got.length === 1, 5000, 'testament');
  t.same(got, ['bye']);
});

t.test('a pattern SUBSCRIBE or REGISTER: the authorizer is asked with its match policy, and an exact answer is not reused for it', async (t) => {
  const { r, asks, set } = await setup(t);
  const carol = await login(r.port, ticket('carol', 'c'));
  t.teardown(() => closeAll(carol));
  // Allows exactly com.app.x, cacheably; any pattern is refused.
  set((a) => ({ allow: a.uri === 'com.app.x' && (a.options.match ?? 'exact') === 'exact', cache: true }));
  t.type(await carol.session.subscribe('com.app.x', () => {}), 'object', 'exact: allowed (and cached)');
  t.equal(await errorOf(carol.session.subscribe('com.app.x', () => {}, { match: 'prefix' })), 'wamp.error.not_authorized', 'prefix on the same URI: asked again, refused');
  t.equal(await errorOf(carol.session.register('com.app.x', () => 1, { match: 'wildcard' })), 'wamp.error.not_authorized', 'wildcard registration: refused');
  const patternAsks = asks.filter((a) => a.uri === 'com.app.x' && a.options.match !== undefined && a.options.match !== 'exact');
  t.same(patternAsks.map((a) => [a.action, a.options.match]), [['subscribe', 'prefix'], ['register', 'wildcard']], 'asked with the match policy in options');
});
