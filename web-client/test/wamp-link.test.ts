// WampLink's handling of overlapping connections. The order in which an old
// connection finishes closing and a new one opens is up to the network and
// the router, so these tests put in connections whose events they fire
// themselves, in the order that broke the page: the real pages run against a
// real router in system/test/e2e-*. Type-checked with the pages
// (web-client/tsconfig.page.json), since it imports one.
import t from 'tap';
import type { Connection, Session } from 'autobahn';
import { WampLink } from '../page/wamp-link.js';
import type { ConnectionState } from '../src/logic/connection.js';

/** A connection whose opening and closing the test triggers. */
class ScriptedConnection {
  onopen: (session: Session, details: Record<string, unknown>) => void = () => {};
  onclose: (reason: string, details: { reason?: string }) => boolean | void = () => {};
  opened = false;
  closeCalls = 0;
  constructor(readonly options: Record<string, unknown>) {}
  open(): void { this.opened = true; }
  close(): void { this.closeCalls++; }
  get isOpen(): boolean { return false; }
  fireOpen(session: Session): void { this.onopen(session, {}); }
  fireClose(reason = 'closed', wampReason = 'wamp.close.normal'): void { this.onclose(reason, { reason: wampReason }); }
}

const fakeSession = (id: number): Session => ({ id } as unknown as Session);
const tick = () => new Promise((r) => setTimeout(r, 0));

function harness() {
  const made: ScriptedConnection[] = [];
  const states: ConnectionState[] = [];
  let finishSetup: (() => void) | undefined;
  const link = new WampLink({
    url: 'ws://127.0.0.1:1/ws',
    realm: 'claw',
    credentials: async () => ({ method: 'anonymous' }),
    // Setup (the page's subscriptions) finishes when the test says so.
    onOpen: () => new Promise<void>((r) => { finishSetup = r; }),
    onState: (s) => states.push(s),
    newConnection: (options) => {
      const c = new ScriptedConnection(options);
      made.push(c);
      return c as unknown as Connection;
    },
  });
  return { link, made, states, finish: () => finishSetup?.(), last: () => states[states.length - 1] };
}

t.test('an old connection that finishes closing after its successor opened does not take the page offline', async (t) => {
  const h = harness();
  h.link.start();
  await tick();
  t.equal(h.made.length, 1);
  h.made[0]!.fireOpen(fakeSession(1));
  h.finish();
  await tick();
  t.equal(h.last()?.kind, 'online', 'first session online');

  // A name was picked: the anonymous session is replaced by the player's.
  h.link.restart();
  const sinceRestart = h.states.length;
  await tick();
  t.equal(h.made[0]!.closeCalls, 1, 'the old connection was asked to close');
  t.equal(h.made.length, 2, 'a new connection is opening');
  const s2 = fakeSession(2);
  h.made[1]!.fireOpen(s2);
  // The old connection's close handshake ends only now, while the new session sets up.
  h.made[0]!.fireClose();
  h.finish();
  await tick();
  t.equal(h.link.session, s2, 'the new session is still the link\'s');
  t.equal(h.last()?.kind, 'online', 'and the page goes online');
  t.notOk(h.states.slice(sinceRestart).some((s) => s.kind === 'waiting'), 'no retry was scheduled for the old connection');
  h.link.stop();
});

t.test('a connection that opens after the link gave up on it is closed, not left on the router', async (t) => {
  const h = harness();
  h.link.start();
  await tick();
  h.link.restart(); // before the first connection opened
  await tick();
  t.equal(h.made.length, 2);
  h.made[0]!.fireOpen(fakeSession(1));
  t.ok(h.made[0]!.closeCalls >= 1, 'the late session is closed');
  t.equal(h.link.session, undefined, 'and never becomes the link\'s session');
  h.made[1]!.fireOpen(fakeSession(2));
  h.finish();
  await tick();
  t.equal(h.link.session?.id, 2);
  t.equal(h.last()?.kind, 'online');
  h.link.stop();
});

t.test('the current connection closing still schedules a retry', async (t) => {
  const h = harness();
  h.link.start();
  await tick();
  h.made[0]!.fireOpen(fakeSession(1));
  h.finish();
  await tick();
  h.made[0]!.fireClose('lost', 'wamp.close.system_shutdown');
  t.equal(h.link.session, undefined, 'the session is gone');
  t.equal(h.last()?.kind, 'waiting', 'a retry is scheduled');
  h.link.stop();
});

t.test('a shutdown GOODBYE keeps the badge on "server restarting" through the refused attempts, until online again', async (t) => {
  const h = harness();
  h.link.start();
  await tick();
  h.made[0]!.fireOpen(fakeSession(1));
  h.finish();
  await tick();
  h.made[0]!.fireClose('closed', 'wamp.close.system_shutdown');
  t.match(h.last(), { kind: 'waiting', reason: 'server restarting' });
  // The router is down: the next attempt finds nobody listening.
  h.link.retryNow();
  await tick();
  t.match(h.last(), { kind: 'connecting', attempt: 1, reason: 'server restarting' }, 'reconnecting, and still says why');
  h.made[1]!.onclose('unreachable', {});
  t.match(h.last(), { kind: 'waiting', reason: 'server restarting' }, 'not "server unreachable"');
  h.link.retryNow();
  await tick();
  h.made[2]!.fireOpen(fakeSession(3));
  h.finish();
  await tick();
  t.equal(h.last()?.kind, 'online');
  // A later, unrelated loss is told as it is.
  h.made[2]!.onclose('unreachable', {});
  t.match(h.last(), { kind: 'waiting', reason: 'server unreachable' }, 'back online cleared the restart');
  h.link.stop();
});
