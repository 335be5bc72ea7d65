// The safety layer against the simulated driver with a fake clock: what
// reaches the lines, and when.
import t, { type Test } from 'tap';
import { OUTPUTS, type OutputName } from '@clawgate/protocol';
import { FakeClock } from '../src/fake-clock.js';
import { SimulatedDriver } from '../src/gpio/simulated-driver.js';
import { InterlockError, SafeOutputs, type SafetyTimings } from '../src/safety/safe-outputs.js';
import { isDirection, opposite, pulseStart, violatesInterlock } from '../src/safety/rules.js';
import { lineSpecs } from '../src/gpio/create-driver.js';

const TIMINGS: SafetyTimings = { holdTimeoutMs: 600, coinPulseMs: 150, coinGapMs: 500, dropPulseMs: 200, dropGapMs: 1000 };

function setup(timings: SafetyTimings = TIMINGS) {
  const clock = new FakeClock();
  const driver = new SimulatedDriver();
  const { outputs, inputs } = lineSpecs({ driver: 'simulated', wiring: undefined });
  driver.claimOutputs(outputs);
  driver.claimInputs(inputs);
  const errors: Error[] = [];
  const safe = new SafeOutputs(driver, clock, timings, (e) => errors.push(e));
  // every edge on a line, with the fake time it happened
  const edges: { name: OutputName; asserted: boolean; at: number }[] = [];
  driver.onOutput((name, asserted) => edges.push({ name, asserted, at: clock.now() }));
  const t0 = clock.now();
  return { clock, driver, safe, edges, errors, t0 };
}

/** Asserts the invariant after every edge: never two opposite directions at once. */
function neverOpposite(t: Test, driver: SimulatedDriver): void {
  driver.onOutput(() => {
    const s = driver.outputsSnapshot();
    if ((s.up && s.down) || (s.left && s.right)) t.fail(`opposite directions asserted together: ${JSON.stringify(s)}`);
  });
}

t.test('rules', async (t) => {
  t.equal(opposite('up'), 'down');
  t.equal(opposite('left'), 'right');
  t.ok(isDirection('right'));
  t.notOk(isDirection('drop'));
  t.equal(pulseStart(1000, -Infinity, 500), 1000, 'first pulse starts now');
  t.equal(pulseStart(1000, 900, 500), 1400, 'waits for the gap');
  t.equal(pulseStart(2000, 900, 500), 2000, 'gap already over');
  const levels = Object.fromEntries(OUTPUTS.map((n) => [n, false])) as Record<OutputName, boolean>;
  levels.up = true;
  t.ok(violatesInterlock(levels, 'down', true));
  t.notOk(violatesInterlock(levels, 'down', false), 'releasing is always allowed');
  t.notOk(violatesInterlock(levels, 'left', true));
});

t.test('nothing is written while disarmed', async (t) => {
  const { safe, driver, clock } = setup();
  t.notOk(safe.hold('up'));
  t.equal(await safe.pulse('coin'), false, 'a pulse while disarmed never starts');
  await clock.advance(1000);
  t.same(driver.writes.filter((w) => w.asserted), [], 'no line was ever asserted');
});

t.test('interlock: a new direction releases its opposite first', async (t) => {
  const { safe, driver, edges } = setup();
  neverOpposite(t, driver);
  safe.arm();
  t.ok(safe.hold('left'));
  t.ok(safe.hold('right'));
  t.same(driver.outputsSnapshot(), { up: false, down: false, left: false, right: true, drop: false, coin: false });
  t.same(edges.map((e) => `${e.name}:${e.asserted}`), ['left:true', 'left:false', 'right:true'], 'left released before right asserted');
  safe.hold('up');
  safe.hold('down');
  t.same(driver.outputsSnapshot(), { up: false, down: true, left: false, right: true, drop: false, coin: false }, 'diagonals are fine');
});

t.test('the interlock holds even against a direct write that would break it', async (t) => {
  const { safe, driver } = setup();
  safe.arm();
  safe.hold('up');
  // reach past hold(): the private writer itself refuses
  const write = (safe as unknown as { write(n: OutputName, a: boolean): void }).write.bind(safe);
  t.throws(() => write('down', true), InterlockError);
  t.equal(driver.output('down'), false);
});

t.test('dead man: a direction not refreshed within the hold timeout is released', async (t) => {
  const { safe, driver, clock, edges, t0 } = setup();
  safe.arm();
  safe.hold('up');
  await clock.advance(599);
  t.equal(driver.output('up'), true, 'still held just before the timeout');
  await clock.advance(1);
  t.equal(driver.output('up'), false, 'released at exactly the hold timeout');
  t.equal(edges.find((e) => e.name === 'up' && !e.asserted)?.at, t0 + 600);
  t.equal(safe.deadManReleases, 1);

  // refreshing every 200 ms keeps it held for as long as the refreshes come
  safe.hold('left');
  for (let i = 0; i < 10; i++) { await clock.advance(200); safe.hold('left'); }
  t.equal(driver.output('left'), true, 'held for 2 s with refreshes');
  const lastRefresh = clock.now();
  await clock.advance(2000);
  t.equal(driver.output('left'), false);
  t.equal(edges.filter((e) => e.name === 'left' && !e.asserted).at(-1)?.at, lastRefresh + 600, 'released one hold timeout after the last refresh');
});

t.test('release() stops the dead-man timer from firing later', async (t) => {
  const { safe, driver, clock } = setup();
  safe.arm();
  safe.hold('right');
  await clock.advance(100);
  safe.release('right');
  safe.hold('right');
  await clock.advance(500);
  t.equal(driver.output('right'), true, 'the old timer did not cut the new hold short');
  await clock.advance(100);
  t.equal(driver.output('right'), false);
});

t.test('pulses have a fixed length and a minimum gap', async (t) => {
  const { safe, clock, edges, t0 } = setup();
  safe.arm();
  const first = safe.pulse('coin');
  t.equal(safe.pulse('coin'), first, 'asking again during a pulse does not start a second one');
  await clock.advance(149);
  t.equal(edges.filter((e) => e.name === 'coin').length, 1, 'still asserted at 149 ms');
  await clock.advance(1);
  t.equal(await first, true);
  const second = safe.pulse('coin'); // asked right after: must wait for the 500 ms gap
  await clock.advance(2000);
  t.equal(await second, true);
  const coin = edges.filter((e) => e.name === 'coin').map((e) => [e.asserted, e.at - t0]);
  t.same(coin, [[true, 0], [false, 150], [true, 650], [false, 800]], 'coin: 150 ms pulses, 500 ms apart');

  const drop = safe.pulse('drop');
  const dropStart = clock.now();
  await clock.advance(1000);
  t.equal(await drop, true);
  const d = edges.filter((e) => e.name === 'drop').map((e) => [e.asserted, e.at - dropStart]);
  t.same(d, [[true, 0], [false, 200]], 'drop: 200 ms pulse');
  void safe.pulse('drop');
  await clock.advance(5000);
  const d2 = edges.filter((e) => e.name === 'drop').map((e) => e.at - dropStart);
  t.same(d2, [0, 200, 1200, 1400], 'the next drop waits out the 1000 ms gap');
});

t.test('a drop releases the directions and blocks them until it is over', async (t) => {
  const { safe, driver, clock } = setup();
  safe.arm();
  safe.hold('up');
  safe.hold('left');
  const drop = safe.pulse('drop');
  t.same(driver.outputsSnapshot(), { up: false, down: false, left: false, right: false, drop: true, coin: false });
  t.notOk(safe.hold('right'), 'no direction during the drop pulse');
  await clock.advance(200);
  t.equal(await drop, true);
  t.ok(safe.hold('right'), 'directions work again after it');
});

t.test('releaseAll cuts a pulse short, cancels pending pulses and dead-man timers', async (t) => {
  const { safe, driver, clock, t0, edges } = setup();
  safe.arm();
  safe.hold('down');
  const coin = safe.pulse('coin');
  await clock.advance(50);
  t.ok(safe.releaseAll());
  t.equal(await coin, false, 'the cut pulse reports it did not complete');
  t.same(driver.outputsSnapshot(), { up: false, down: false, left: false, right: false, drop: false, coin: false });
  const next = safe.pulse('coin');
  await clock.advance(1000);
  t.equal(await next, true);
  t.equal(edges.filter((e) => e.name === 'coin' && e.asserted).at(-1)?.at, t0 + 550, 'a cut pulse still counts for the gap');
  t.equal(clock.pending, 0, 'no timer left behind');
});

t.test('disarm releases everything and refuses writes until arm', async (t) => {
  const { safe, driver, clock } = setup();
  safe.arm();
  safe.hold('up');
  const drop = safe.pulse('drop');
  t.ok(safe.disarm());
  t.equal(await drop, false);
  t.notOk(safe.hold('up'));
  t.same(Object.values(driver.outputsSnapshot()), [false, false, false, false, false, false]);
  await clock.advance(5000);
  t.same(Object.values(driver.outputsSnapshot()), [false, false, false, false, false, false], 'nothing comes back by itself');
});

t.test('a failing line: the others are still released, and the node does not call itself released', async (t) => {
  const { safe, driver } = setup();
  safe.arm();
  safe.hold('up');
  safe.hold('left');
  const realSet = driver.set.bind(driver);
  let broken = true;
  driver.set = (name, asserted) => { if (name === 'left' && broken) throw new Error('EIO'); realSet(name, asserted); };
  driver.releaseAll = () => { for (const n of OUTPUTS) driver.set(n, false); };
  t.notOk(safe.releaseAll(), 'not all released');
  t.equal(driver.output('up'), false, 'up was released although left failed');
  t.equal(safe.levels().left, true, 'left counts as possibly asserted');
  broken = false;
  t.ok(safe.releaseAll(), 'released once the line works again');
});

t.test('change listeners see every level change', async (t) => {
  const { safe, clock } = setup();
  const seen: string[] = [];
  safe.onChange((l) => seen.push(OUTPUTS.filter((n) => l[n]).join('+') || '-'));
  safe.arm();
  safe.hold('up');
  safe.hold('up'); // refresh: no change
  await clock.advance(600);
  t.same(seen, ['up', '-']);
});
