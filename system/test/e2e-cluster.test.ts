// Issue 18, item 9: the claw system on a three-node router cluster. Router
// nodes n1-n3 from the CLI with the claw realm's config, one nats-server; the
// backend as its own process on n1; a simulated claw node as its own process
// behind a TCP balancer whose next node is n2; two players (autobahn-js with
// guest tickets, as the page logs in) on n1 and n3, and a spectator on n1
// watching the machine's lines and status. Both players play full turns
// (join, ready, steer, drop, result) across nodes. Then n2, the claw node's
// node, is killed (-9) while a player holds a direction: the claw releases
// its lines, reconnects through the balancer to another node, the backend
// sees the machine back, and the next turn plays to a result.
import t from 'tap';
import { Procedures, type LinesPayload } from '@clawgate/protocol';
import { FAST_OVERRIDES, eventually, spectate, tempDir } from './helpers.js';
import { Player } from './hostile/player.js';
import { endpointOf } from './hostile/raw-wamp.js';
import { backendHealthy, haveNats, printed, spawnClaw, startBalancer, startClawCluster, startNats, stopNats } from './cluster-helpers.js';

// Alone ~55 s on 2 cores (three router processes, the backend and the claw node start one after the other).
t.setTimeout(240_000);

const MACHINE = 'claw-1';
const RESULT = ['win', 'lose'];

t.test('the claw system on a three-node cluster, and the claw node\'s node killed', { skip: haveNats ? false : 'nats-server is not installed' }, async (t) => {
  const dataDir = tempDir(t, 'clawgate-e2e-cluster-');
  const nats = await startNats();
  t.teardown(() => stopNats(nats));
  const sys = await startClawCluster({ dataDir, natsUrl: nats.url, nodes: 3, machines: [MACHINE], backendNode: 0, backend: FAST_OVERRIDES.backend });
  t.teardown(() => sys.stop());
  const [n1, n2, n3] = sys.nodes as [typeof sys.nodes[0], typeof sys.nodes[0], typeof sys.nodes[0]];
  // The claw node's balancer: its first connection goes to n2, a reconnect to the next live node.
  const lb = await startBalancer([n2, n3, n1].map((n) => ({ port: n.port })));
  t.teardown(() => lb.stop());
  // The claw node's default reconnect delay (500 ms ± 20 %): it is back on n3 before the other nodes see n2 gone
  // (up to 2.75 s), so its old session's `offline` testament is published after its new `ready`; the router keeps
  // the `ready` retained and the backend drops the stale testament (docs/cluster.md, docs/protocol.md).
  // E2E_CLAW_RECONNECT_MS sets another first delay (200: back even sooner; 4000: back after the loss was seen).
  const reconnectMs = process.env.E2E_CLAW_RECONNECT_MS;
  const claw = spawnClaw(dataDir, MACHINE, lb.url, { ...FAST_OVERRIDES.claw, ...(reconnectMs === undefined ? {} : { reconnect: { initialDelayMs: Number(reconnectMs), maxDelayMs: 8000 } }) });
  // Stopped before the routers (its clean stop needs one), as system.ts stops them.
  t.teardown(async () => { claw.kill('SIGTERM'); await Promise.race([claw.exited, new Promise((r) => setTimeout(r, 5000))]); claw.kill('SIGKILL'); });
  t.teardown(() => {
    if (t.passing() && process.env.E2E_CLUSTER_DUMP !== "1") return;
    for (const p of [claw, sys.backend, ...sys.nodes]) process.stderr.write(`--- ${p.name} (test failed) ---\n${p.output().slice(-20_000)}\n`);
  });

  const spectator = await spectate(t, n1.wsUrl, MACHINE);
  const status = (): Promise<string | undefined> => spectator.session.call(Procedures.machinesList).then(
    (list) => (list as { machine: string; state: string }[]).find((m) => m.machine === MACHINE)?.state, () => undefined);
  await eventually(async () => (await status()) === 'ready', 30_000, 'the backend (on n1) to list the machine (on n2) as ready');
  t.same(lb.picks, [0], 'the claw node is on n2');

  const ep = (wsUrl: string) => endpointOf(sys.backend.httpUrl, wsUrl);
  const p1 = await Player.connect(ep(n1.wsUrl), 'Ann', '127.0.0.1');
  const p2 = await Player.connect(ep(n3.wsUrl), 'Bob', '127.0.0.1');
  t.teardown(() => Promise.all([p1.close(), p2.close()]).then(() => undefined));

  /** The first lines payload at or after index `from` that `pred` accepts. */
  const lines = (pred: (l: LinesPayload) => boolean, what: string, from: number, ms = 15_000) =>
    eventually(() => spectator.lines.slice(from).find((l) => pred(l.payload)), ms, what);

  /** Joins, confirms, steers right (seen on the machine's lines), drops: the result. */
  const turn = async (p: Player): Promise<string> => {
    const topic = await p.takeTurn(MACHINE);
    const from = spectator.lines.length;
    await p.publish(topic, { command: 'rightOn' });
    await lines((l) => l.outputs.right === true, 'right asserted', from);
    await p.publish(topic, { command: 'rightOff' });
    await lines((l) => l.outputs.right === false, 'right released', from);
    return p.drop(MACHINE);
  };

  t.test('full turns by players on n1 and n3, the backend on n1, the claw on n2', async (t) => {
    t.ok(RESULT.includes(await turn(p1)), 'Ann (n1) played a turn to a result');
    t.ok(RESULT.includes(await turn(p2)), 'Bob (n3) played a turn to a result');
  });

  t.test('kill -9 of n2 mid-turn: lines released, the claw back on another node, the next turn plays', async (t) => {
    const topic = await p1.takeTurn(MACHINE);
    let from = spectator.lines.length;
    await p1.publish(topic, { command: 'leftOn' });
    await lines((l) => l.outputs.left === true, 'left asserted', from);

    const mark = claw.mark();
    const annFrom = p1.messages.length;
    from = spectator.lines.length;
    const killed = Date.now();
    n2.kill('SIGKILL');
    await n2.exited;
    await printed(claw, /router session lost; all outputs released/, 10_000, mark);
    t.pass('the claw node lost its router session and released all outputs');
    // What it publishes first once back (through another node): every output off. (Lines it published
    // just before the kill may still arrive after it: only those received after it joined again count.)
    const joined = JSON.parse(await printed(claw, /"msg":"joined the router"/, 20_000, mark)) as { time: number };
    const back = await eventually(() => spectator.lines.slice(from).find((l) => l.at >= joined.time), 20_000, 'the claw node\'s lines from its new node');
    const on = Object.entries(back.payload.outputs).filter(([, v]) => v).map(([k]) => k);
    t.same(on, [], 'the simulated machine\'s outputs are all off');
    t.equal(lb.picks.length >= 2 && lb.picks[1], 1, 'the claw node reconnected through the balancer to n3 (n2 skipped)');

    await eventually(async () => (await status()) === 'ready', 30_000, 'the backend to list the machine as ready again');
    t.pass('the backend sees the machine back (ready)');
    // Once every node has seen n2 gone and published the old session's testament: the machine's retained status is
    // the new session's on every node (a late subscriber, a dashboard, a restarting backend), not `offline`.
    await new Promise((r) => setTimeout(r, Math.max(0, killed + 4000 - Date.now())));
    for (const n of [n1, n3]) {
      const late = await spectate(t, n.wsUrl, MACHINE);
      const got: string[] = [];
      await late.session.subscribe(`claw.machine.${MACHINE}.status`, (args) => { got.push((args?.[0] as { state: string }).state); }, { get_retained: true });
      await eventually(() => got.length > 0, 5000, `the retained status on ${n.name}`);
      t.not(got[0], 'offline', `the retained status on ${n.name} after the loss of n2 is the claw's new session's (${got[0]})`);
      await late.close();
    }
    t.equal(await status(), 'ready', 'the backend still lists the machine ready after the old session\'s testament');
    await backendHealthy(sys.backend, 5000);
    // Ann's turn ended with the claw's session; she keeps her place and is asked first once the machine is back.
    const ended = await p1.waitFor((m) => m.type === 'control' && m.control === false && m.machine === MACHINE, 20_000, 'the end of the interrupted turn', annFrom);
    await p1.waitFor((m) => m.type === 'get_ready' && m.machine === MACHINE, 20_000, 'get_ready once the machine is back', ended.index);
    await p1.call(Procedures.turnReady, [MACHINE]);
    const control = await p1.waitFor((m) => m.type === 'control' && m.control === true && m.machine === MACHINE, 20_000, 'control', ended.index);
    t.equal(control.m.topic ?? topic, topic, 'the same control topic, whatever node the claw is on now');
    const steer = spectator.lines.length;
    await p1.publish(topic, { command: 'rightOn' });
    await lines((l) => l.outputs.right === true, 'right asserted', steer);
    await p1.publish(topic, { command: 'rightOff' });
    await lines((l) => l.outputs.right === false, 'right released', steer);
    t.ok(RESULT.includes(await p1.drop(MACHINE)), 'Ann (n1) plays the next turn to a result, the claw now on n3');
    t.ok(RESULT.includes(await turn(p2)), 'and Bob (n3) after her');
  });
});
