// The simulated cabinet: physics, walls, grab probability, determinism.
import t from 'tap';
import { FakeClock } from '../src/fake-clock.js';
import { SimulatedDriver } from '../src/gpio/simulated-driver.js';
import { lineSpecs } from '../src/gpio/create-driver.js';
import { DEFAULT_SIMULATOR, SimulatedMachine } from '../src/sim/simulated-machine.js';
import { grabProbability, moveClaw, nearest, stepTowards } from '../src/sim/physics.js';
import { seededRng } from '../src/rng.js';

t.test('physics', async (t) => {
  t.same(moveClaw({ x: 0.5, y: 0.5 }, ['right'], 0.5, 200), { x: 0.6, y: 0.5 });
  t.same(moveClaw({ x: 0.5, y: 0.5 }, ['up', 'left'], 1, 100), { x: 0.4, y: 0.6 }, 'diagonal');
  t.same(moveClaw({ x: 0.99, y: 0.01 }, ['right', 'down'], 1, 1000), { x: 1, y: 0 }, 'walls stop it');
  t.same(stepTowards({ x: 1, y: 0 }, { x: 0, y: 0 }, 0.25), { x: 0.75, y: 0 });
  t.same(stepTowards({ x: 0.1, y: 0 }, { x: 0, y: 0 }, 0.25), { x: 0, y: 0 }, 'arrives');
  t.equal(grabProbability(0, 0.1, 0.8), 0.8, 'dead centre');
  t.equal(grabProbability(0.05, 0.1, 0.8), 0.8 * 0.75);
  t.equal(grabProbability(0.1, 0.1, 0.8), 0, 'at the edge: never');
  t.equal(nearest({ x: 0, y: 0 }, [{ x: 1, y: 1 }, { x: 0.1, y: 0 }])?.prize.x, 0.1);
  const a = seededRng(42);
  const b = seededRng(42);
  t.same([a(), a(), a()], [b(), b(), b()], 'seeded RNG repeats');
});

function cabinet(seed: number) {
  const clock = new FakeClock();
  const driver = new SimulatedDriver();
  const specs = lineSpecs({ driver: 'simulated', wiring: undefined });
  driver.claimOutputs(specs.outputs);
  driver.claimInputs(specs.inputs);
  const sim = new SimulatedMachine(driver, clock, { ...DEFAULT_SIMULATOR, seed });
  sim.start();
  return { clock, driver, sim };
}

t.test('no credit, no movement; a coin gives one game', async (t) => {
  const { clock, driver, sim } = cabinet(1);
  driver.set('right', true);
  await clock.advance(1000);
  t.equal(sim.snapshot().x, 0, 'uncredited: the claw does not move');
  driver.set('coin', true); driver.set('coin', false);
  await clock.advance(1000);
  t.ok(Math.abs(sim.snapshot().x - DEFAULT_SIMULATOR.speed) < 1e-9, `moves at its speed (x=${sim.snapshot().x})`);
  driver.set('right', false);
  driver.set('drop', true); driver.set('drop', false);
  t.equal(sim.snapshot().phase, 'lowering');
  t.notOk(sim.snapshot().credit, 'the drop used the credit');
  await clock.advance(10_000);
  t.equal(sim.snapshot().phase, 'idle');
  t.same([sim.snapshot().x, sim.snapshot().y, sim.snapshot().z], [0, 0, 1], 'back home, up');
  driver.set('drop', true); driver.set('drop', false);
  t.equal(sim.snapshot().phase, 'idle', 'no credit: a drop does nothing');
  sim.stop();
});

t.test('a catch pulses the prize input on delivery', async (t) => {
  const { clock, driver, sim } = cabinet(5);
  sim.clearPrizes();
  sim.placePrize({ x: 0, y: 0 });
  const edges: [boolean, number][] = [];
  driver.watch('prize', (a) => edges.push([a, clock.now()]));
  driver.set('coin', true); driver.set('coin', false);
  driver.set('drop', true); driver.set('drop', false);
  await clock.advance(10_000);
  t.equal(sim.grabs.length, 1);
  t.equal(sim.grabs[0]!.p, DEFAULT_SIMULATOR.maxGrabProbability);
  if (sim.grabs[0]!.caught) {
    t.equal(sim.delivered, 1);
    t.equal(edges.length, 2);
    t.equal(edges[1]![1] - edges[0]![1], DEFAULT_SIMULATOR.prizePulseMs, 'a pulse of prizePulseMs');
    t.equal(sim.prizes().length, 1, 'a new prize replaces the delivered one');
  } else {
    t.equal(edges.length, 0, 'missed: no pulse');
  }
  sim.stop();
});

t.test('the same seed plays the same game', async (t) => {
  const play = async (seed: number) => {
    const { clock, driver, sim } = cabinet(seed);
    const outcomes: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      driver.set('coin', true); driver.set('coin', false);
      driver.set('up', true); driver.set('right', true);
      await clock.advance(300 + i * 150);
      driver.set('up', false); driver.set('right', false);
      driver.set('drop', true); driver.set('drop', false);
      await clock.advance(10_000);
      outcomes.push(sim.grabs.at(-1)!.caught);
    }
    sim.stop();
    return { outcomes, prizes: sim.prizes().map((p) => [p.x, p.y]), grabs: sim.grabs };
  };
  const a = await play(11);
  const b = await play(11);
  t.same(a, b, 'deterministic');
  t.ok(a.grabs.length === 6);
});

t.test('the prizes\' version counts every change of what lies in the box, and a change is announced', async (t) => {
  const { clock, driver, sim } = cabinet(2);
  const seen: number[] = [];
  sim.onChange((s) => seen.push(s.prizesVersion));
  const v0 = sim.snapshot().prizesVersion;
  const p = sim.placePrize({ x: 0, y: 0 });
  t.equal(sim.snapshot().prizesVersion, v0 + 1, 'placing a prize');
  t.same(seen, [v0 + 1], 'announced outside a step too');
  t.ok(sim.prizes().includes(p));
  // A sure catch at home: the claw closes on the prize (it leaves the box), brings it back, a new one appears.
  sim.clearPrizes();
  sim.placePrize({ x: 0, y: 0 });
  const before = sim.snapshot().prizesVersion;
  (sim as unknown as { opts: { maxGrabProbability: number } }).opts.maxGrabProbability = 1;
  driver.set('coin', true); driver.set('coin', false);
  driver.set('drop', true); driver.set('drop', false);
  await clock.advance(DEFAULT_SIMULATOR.lowerMs + 100);
  t.ok(sim.snapshot().holding, 'caught');
  t.equal(sim.prizes().length, 0, 'the prize is in the claw, not in the box');
  t.equal(sim.snapshot().prizesVersion, before + 1);
  await clock.advance(DEFAULT_SIMULATOR.grabMs + DEFAULT_SIMULATOR.raiseMs + DEFAULT_SIMULATOR.releaseMs + 500);
  t.equal(sim.prizes().length, 1, 'delivered: a new prize appears');
  t.equal(sim.snapshot().prizesVersion, before + 2);
  t.ok(seen.includes(before + 2), 'and the listener heard of it');
});
