// Which events of a get_events answer a page has not taken in yet, across
// its sessions (src/logic/catch-up.ts).
import t from 'tap';
import { MAX_HELD_BACK, TopicCursor, eventsAfter, mergeCatchUp, parseHistory, type HistoryEvent } from '../src/logic/catch-up.js';

const ev = (publication: number): HistoryEvent => ({ publication, topic: 'claw.player.p1', args: [{ n: publication }], kwargs: {} });
/** The router's answer: newest first. */
const answer = (...ids: number[]): HistoryEvent[] => ids.map(ev).reverse();
const ids = (events: { publication: number | undefined }[]) => events.map((e) => e.publication);

t.test('parseHistory: the router answer as records; anything else left out', async (t) => {
  t.same(parseHistory([
    { publication: 7, topic: 'a.b', timestamp: '2026-01-01T00:00:00.000Z', args: [1], kwargs: { k: 1 }, details: {} },
    { publication: 6, topic: 'a.b' },
    { publication: '5', topic: 'a.b', args: [] },
    { publication: 4, topic: 'a.b', args: 'x' },
    null,
  ]), [
    { publication: 7, topic: 'a.b', args: [1], kwargs: { k: 1 } },
    { publication: 6, topic: 'a.b', args: [], kwargs: {} },
  ]);
  t.equal(parseHistory({ error: 'x' }), undefined, 'not a list');
  t.same(parseHistory([]), []);
});

t.test('eventsAfter: newer than the mark, oldest first', async (t) => {
  const history = answer(1, 2, 3, 4, 5);
  t.same(ids(eventsAfter(history, 3)), [4, 5]);
  t.same(ids(eventsAfter(history, 5)), [], 'nothing after the newest');
  t.same(ids(eventsAfter(history, null)), [1, 2, 3, 4, 5], 'null: the topic had nothing when we looked, all is new');
  t.same(ids(eventsAfter(history, undefined)), [], 'unknown: nothing can be told from what came before the page');
  t.same(ids(eventsAfter(history, 99)), [1, 2, 3, 4, 5], 'a mark pushed out of the bounded history (or lost in a router restart): all of it is newer');
  t.same(history.map((e) => e.publication), [5, 4, 3, 2, 1], 'the answer itself is not reordered');
});

t.test('first session: the history only says where the page stands', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  t.same(c.caughtUp(answer(1, 2)), [], 'what came before the page (an old turn\'s result) is not replayed');
  t.equal(c.current, 2);
  c.live(3);
  t.equal(c.current, 3, 'live events move the mark');
});

t.test('first session of an empty topic: later history is all new', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  t.same(c.caughtUp([]), []);
  t.equal(c.current, null);
  c.sessionStarted(); // the connection was lost before anything came
  t.same(ids(c.caughtUp(answer(1, 2))), [1, 2]);
});

t.test('a reconnect replays what was missed and what the new session got since, in order', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  c.caughtUp(answer(1));
  c.live(2);
  // Lost; 3 and 4 were published meanwhile. The new session gets 5 live (the backend re-sends the current position) before the history answers.
  c.sessionStarted();
  c.live(5);
  t.equal(c.current, 2, 'a live event of the new session does not move the mark past what was missed');
  t.same(ids(c.caughtUp(answer(1, 2, 3, 4, 5))), [3, 4, 5], 'missed ones first, then the newer re-sent one, so the newest has the last word');
  t.equal(c.current, 5);
  c.live(6);
  t.equal(c.current, 6);
  t.same(c.caughtUp(answer(6)), [], 'no catch-up pending: nothing');
});

t.test('a catch-up the session did not finish is taken up by the next one from the same place', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  c.caughtUp(answer(1, 2));
  c.sessionStarted(); // lost after 2
  c.live(4); // session 2 got 4 live, then closed before the history answered
  c.sessionStarted(); // session 3
  t.same(ids(c.caughtUp(answer(1, 2, 3, 4, 5))), [3, 4, 5]);
});

t.test('no history (unavailable, not allowed): the page goes on from what it got live', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  c.caughtUp(answer(1));
  c.sessionStarted();
  c.live(7);
  c.failed();
  t.equal(c.current, 7, 'from the newest live event');
  c.sessionStarted();
  c.failed();
  t.equal(c.current, undefined, 'nothing live either: unknown');
  c.sessionStarted();
  t.same(c.caughtUp(answer(1, 7, 8)), [], 'unknown: nothing replayed');
  t.equal(c.current, 8);
});

// Persistent subscriptions (x_persistent): the router replays what it kept right after SUBSCRIBED,
// before the history read's answer, and the page holds back whatever comes before that answer.
const args = (publication: number): unknown[] => [{ n: publication }];

t.test('held back while pending: applied now only without a catch-up', async (t) => {
  const c = new TopicCursor();
  t.equal(c.live(1, args(1)), true, 'no catch-up pending: apply it now');
  c.sessionStarted();
  t.equal(c.live(2, args(2)), false, 'pending: held back');
  t.same(c.caughtUp(answer(1, 2)).map((e) => [e.publication, e.args]), [[2, args(2)]], 'given back once, in its place');
  t.equal(c.live(3, args(3)), true);
});

t.test('first session: a persistent replay is applied, though the history only says where the page stands', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  // Kept while the player had no page (a turn ended during a reload), then the backend's re-sent position.
  for (const n of [4, 5, 6]) c.live(n, args(n));
  t.same(ids(c.caughtUp(answer(1, 2, 3, 4, 5, 6))), [4, 5, 6], 'the replay and the live one, not the older history');
  t.equal(c.current, 6);
});

t.test('a reconnect with both: each event once, the history\'s order', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  c.caughtUp(answer(1));
  c.live(2, args(2));
  // Lost after 2; 3 and 4 published meanwhile and kept by the persistent subscription; 5 live.
  c.sessionStarted();
  for (const n of [3, 4, 5]) c.live(n, args(n));
  t.same(ids(c.caughtUp(answer(1, 2, 3, 4, 5))), [3, 4, 5], 'not twice');
});

t.test('a replay older than the history\'s reach goes first', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  c.caughtUp(answer(1));
  c.sessionStarted();
  // The history (bounded, shared by all players) no longer has 2 and 3; the persistent subscription kept them.
  for (const n of [2, 3, 4, 5]) c.live(n, args(n));
  t.same(ids(c.caughtUp(answer(4, 5))), [2, 3, 4, 5]);
  t.same(ids(mergeCatchUp([{ publication: 9, args: [] }], [])), [9], 'no history events: the held-back ones');
});

t.test('no history: what was held back is applied; an unfinished catch-up keeps it for the next session', async (t) => {
  const c = new TopicCursor();
  c.sessionStarted();
  c.live(1, args(1));
  c.sessionStarted(); // closed before the history answered: the next session takes it up
  c.live(2, args(2));
  t.same(ids(c.failed()), [1, 2], 'both sessions\' held-back events, in order');
  t.equal(c.current, 2);
  t.same(c.failed(), [], 'nothing pending');
  c.sessionStarted();
  for (let n = 0; n < MAX_HELD_BACK + 5; n++) c.live(100 + n, args(n));
  const held = c.failed();
  t.equal(held.length, MAX_HELD_BACK, 'bounded');
  t.equal(held[0]!.publication, 105, 'the oldest went first');
});
