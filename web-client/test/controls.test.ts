// The steering rules: key mapping and hold-to-repeat with a fake timer.
import t from 'tap';
import { Defaults, type Command } from '@clawgate/protocol';
import { HoldRepeater, keyToControl, type Timers } from '../src/logic/controls.js';

/** Interval timers driven by hand: advance(ms) fires what is due. */
function fakeTimers(): Timers & { advance(ms: number): void; active: number } {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { fn: () => void; every: number; due: number }>();
  return {
    setInterval(fn, ms) { const id = next++; timers.set(id, { fn, every: ms, due: now + ms }); return id; },
    clearInterval(h) { timers.delete(h as number); },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.values()].filter((x) => x.due <= end).sort((a, b) => a.due - b.due)[0];
        if (!due) break;
        now = due.due;
        due.due += due.every;
        due.fn();
      }
      now = end;
    },
    get active() { return timers.size; },
  };
}

t.test('keys: arrows, WASD by physical key, space drops, modified keys stay the browser\'s', async (t) => {
  t.same(keyToControl({ key: 'ArrowUp', code: 'ArrowUp' }), { kind: 'direction', direction: 'up' });
  t.same(keyToControl({ key: 'ArrowLeft', code: 'ArrowLeft' }), { kind: 'direction', direction: 'left' });
  t.same(keyToControl({ key: 'w', code: 'KeyW' }), { kind: 'direction', direction: 'up' });
  t.same(keyToControl({ key: 'z', code: 'KeyW' }), { kind: 'direction', direction: 'up' }, 'AZERTY: the key where W is');
  t.same(keyToControl({ key: 'd', code: 'KeyD' }), { kind: 'direction', direction: 'right' });
  t.same(keyToControl({ key: 's', code: 'KeyS' }), { kind: 'direction', direction: 'down' });
  t.same(keyToControl({ key: 'a', code: 'KeyA' }), { kind: 'direction', direction: 'left' });
  t.same(keyToControl({ key: ' ', code: 'Space' }), { kind: 'drop' });
  t.equal(keyToControl({ key: 'w', code: 'KeyW', ctrlKey: true }), undefined, 'Ctrl+W closes the tab, not steers');
  t.equal(keyToControl({ key: 'ArrowLeft', code: 'ArrowLeft', altKey: true }), undefined);
  t.equal(keyToControl({ key: 'Enter', code: 'Enter' }), undefined);
  t.equal(keyToControl({ key: 'x', code: 'KeyX' }), undefined);
});

t.test('a held direction is sent at once and repeated every repeatMs; release sends Off once', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers);
  r.press('left');
  t.same(sent, ['leftOn'], 'On goes out immediately');
  timers.advance(Defaults.repeatMs - 1);
  t.same(sent, ['leftOn'], 'no repeat before repeatMs');
  timers.advance(1);
  t.same(sent, ['leftOn', 'leftOn']);
  timers.advance(Defaults.repeatMs * 3);
  t.equal(sent.filter((c) => c === 'leftOn').length, 5);
  t.ok(Defaults.repeatMs < Defaults.holdTimeoutMs, 'repeats come faster than the node\'s dead-man timeout');
  r.release('left');
  t.equal(sent.at(-1), 'leftOff');
  t.equal(timers.active, 0, 'the repeat timer is gone');
  timers.advance(1000);
  t.equal(sent.at(-1), 'leftOff', 'nothing more after release');
  r.release('left');
  t.equal(sent.filter((c) => c === 'leftOff').length, 1, 'a second release sends nothing');
});

t.test('pressing an already held direction does not restart or double the repeat', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers, 100);
  r.press('up');
  r.press('up');
  t.equal(timers.active, 1);
  timers.advance(100);
  t.same(sent, ['upOn', 'upOn']);
});

t.test('two sources hold one direction: Off only when both let go', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers, 100);
  r.press('right', 'key');
  r.press('right', 'pointer');
  r.release('right', 'key');
  t.notOk(sent.includes('rightOff'), 'the finger still holds it');
  timers.advance(100);
  t.equal(sent.at(-1), 'rightOn', 'still repeating');
  r.release('right', 'pointer');
  t.equal(sent.at(-1), 'rightOff');
  t.same(r.active, []);
});

t.test('a release from a source that never pressed is ignored', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers, 100);
  r.press('down', 'key');
  r.release('down', 'pointer');
  t.same(sent, ['downOn']);
  t.same(r.active, ['down']);
});

t.test('diagonals: two directions repeat independently', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers, 100);
  r.press('up');
  r.press('left');
  timers.advance(100);
  t.same(sent.sort(), ['leftOn', 'leftOn', 'upOn', 'upOn']);
});

t.test('releaseAll (blur, hidden tab, end of turn) sends Off for each held direction', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers, 100);
  r.press('up');
  r.press('right', 'pointer');
  sent.length = 0;
  r.releaseAll();
  t.same(sent.sort(), ['rightOff', 'upOff']);
  t.equal(timers.active, 0);
  r.releaseAll();
  t.equal(sent.length, 2, 'idempotent');
});

t.test('drop releases held directions first, then drops', async (t) => {
  const timers = fakeTimers();
  const sent: Command[] = [];
  const r = new HoldRepeater((c) => sent.push(c), timers, 100);
  r.press('left');
  r.drop();
  t.same(sent, ['leftOn', 'leftOff', 'drop']);
  t.equal(timers.active, 0);
});
