// kill -9 the backend (a child process running the real CLI) at random
// points of a scripted session, restart it, and check that the queue in
// SQLite and what players are told match a model of the queue. Also: SIGTERM
// exits cleanly, a bad config exits 2 naming the key.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { Procedures, machineUris, type PlayerMessage, type QueueSnapshot } from '@clawgate/protocol';
import { LEAN, Player, ScriptedClaw, backendConfig, connectSpectator, eventually, rng, sleep, startClawRouter, tempDir, type TestRouter } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/clawgate-backend.js', import.meta.url));
const M = 'claw-1';
// One kill in CI's lean pass (Node 20; helpers.ts LEAN), three in the full one.
const ITERATIONS = LEAN ? 1 : 3;
const PLAYERS = 8;


function startChild(configFile: string): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string } {
  const child = spawn(process.execPath, ['--conditions=@clawgate/source', BIN, '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exited, stderr: () => err };
}

type Known = 'in' | 'out' | 'maybe';

interface Model {
  state: Map<string, Known>;
  /**
   * How each player known to be waiting got its place, absent when unsure.
   * A join's call was sent at `sent` and answered at `acked`; a player put
   * back at the front was told so at `sent` = `acked` (it happened earlier).
   * Answers to different players come over different connections, so the
   * order in which this process reads them is not the order the backend
   * served them in: only an answer read before another call was even sent
   * orders two joins.
   */
  key: Map<string, { front: boolean; sent: number; acked: number }>;
  /** Asked to get ready or in a turn: what happens next is told by messages a crash may cut off. */
  inTurn: Set<string>;
}

/** `a` is known to be ahead of `b` in the queue: `b` joined (its call sent) after `a`'s place was settled and acknowledged. */
function mustPrecede(a: { acked: number }, b: { front: boolean; sent: number }): boolean {
  return !b.front && a.acked < b.sent;
}

function track(model: Model, p: Player, autoConfirm: () => boolean): void {
  p.session.subscribe(`claw.player.${p.authid}`, (args: unknown[] | undefined) => {
    const m = args?.[0] as PlayerMessage;
    const a = p.authid;
    if (m.type === 'get_ready') {
      model.state.set(a, 'maybe');
      model.inTurn.add(a);
      if (autoConfirm()) p.call(Procedures.turnReady, [M]).catch(() => {});
    } else if (m.type === 'removed') {
      model.state.set(a, 'out');
      model.inTurn.delete(a);
    } else if (m.type === 'control' && m.control === false) {
      model.inTurn.delete(a);
      if (m.result === 'abandoned') { const now = performance.now(); model.state.set(a, 'in'); model.key.set(a, { front: true, sent: now, acked: now }); } else model.state.set(a, 'out');
    } else if (m.type === 'control') {
      model.state.set(a, 'maybe');
      model.inTurn.add(a);
    }
  });
}

async function act(model: Model, p: Player, join: boolean): Promise<void> {
  const a = p.authid;
  const before = model.state.get(a);
  const sent = performance.now();
  model.state.set(a, 'maybe');
  try {
    if (join) {
      const slot = await p.call(Procedures.requestSlot, [M]) as { playing?: boolean };
      if (slot.playing || model.inTurn.has(a)) { model.state.set(a, 'maybe'); return; }
      model.state.set(a, 'in');
      if (before === 'out') model.key.set(a, { front: false, sent, acked: performance.now() });
      else if (before !== 'in') model.key.delete(a); // it may have been there since an unacknowledged join
    } else {
      await p.call(Procedures.leave, [M]);
      model.state.set(a, 'out');
      model.key.delete(a);
    }
  } catch (e) {
    const uri = (e as { error?: string }).error;
    if (uri === 'claw.error.not_in_queue') { model.state.set(a, 'out'); model.key.delete(a); } else if (uri?.startsWith('claw.error.')) model.state.set(a, before ?? 'out');
    else {
      // Anything else (the backend died mid-call): unknown, even if a message
      // (say the end of this player's turn) set the state while the call was
      // in flight: the call itself may have committed before the kill.
      model.state.set(a, 'maybe');
      model.key.delete(a);
    }
  }
}

interface Row { authid: string; state: string; seq: number }

function readQueue(dbPath: string): Row[] {
  const db = new Database(dbPath, { readonly: true });
  try { return db.prepare('SELECT authid, state, seq FROM queue_entries WHERE machine = ? ORDER BY seq').all(M) as Row[]; } finally { db.close(); }
}

function checkAgainstModel(t: Test, rows: Row[], model: Model, label: string): void {
  const authids = rows.map((r) => r.authid);
  t.equal(new Set(authids).size, authids.length, `${label}: no player twice`);
  for (const [authid, s] of model.state) {
    if (s === 'in') t.ok(authids.includes(authid), `${label}: ${authid} (acknowledged in the queue) is in SQLite`);
    if (s === 'out') t.notOk(authids.includes(authid), `${label}: ${authid} (acknowledged out) is not in SQLite`);
  }
  const known = rows.filter((r) => model.state.get(r.authid) === 'in' && model.key.has(r.authid)).map((r) => r.authid);
  const wrong: string[] = [];
  known.forEach((later, j) => known.slice(0, j).forEach((earlier) => {
    // `later` should be ahead: its place was settled before `earlier`'s join was sent
    // (a join answered first, or a put-back to the front, which goes ahead of every later join).
    if (mustPrecede(model.key.get(later)!, model.key.get(earlier)!)) wrong.push(`${later} before ${earlier}`);
  }));
  t.same(wrong, [], `${label}: first come, first served among known entries (${known.join(', ')})`);
}

t.test('kill -9 at random points: SQLite and what players are told match the model', async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000);
  t.comment(`seed ${seed} (replay with CRASH_SEED=${seed})`);
  const random = rng(seed);
  const dir = tempDir(t);
  const r: TestRouter = await startClawRouter([M]);
  t.teardown(() => r.stop());
  const claw = await new ScriptedClaw(r, M, { autoResult: (n) => (n % 3 === 0 ? 'win' : 'lose'), resultAfterMs: 120 }).start();
  t.teardown(() => claw.stop());
  const dbPath = join(dir, 'queue.sqlite');
  const configFile = join(dir, 'backend.json');
  writeFileSync(configFile, JSON.stringify(backendConfig(r.url, dbPath, {
    logLevel: 'warn',
    defaults: { readyWindowSeconds: 60, graceSeconds: 300, moveSeconds: 5, maxQueue: 50 },
  })));

  const model: Model = { state: new Map(), key: new Map(), inTurn: new Set() };
  let autoConfirm = true;
  const players: Player[] = [];
  for (let i = 0; i < PLAYERS; i++) {
    const p = await Player.withTicket(r, `pc${i}`);
    players.push(p);
    model.state.set(p.authid, 'out');
    track(model, p, () => autoConfirm);
  }
  t.teardown(async () => { for (const p of players) await p.disconnect(); });
  const spectator = await connectSpectator(r.url);
  t.teardown(() => spectator.close());
  let retained: QueueSnapshot | undefined;
  await spectator.session.subscribe(machineUris(M).queue, (args: unknown[] | undefined) => { retained = args?.[0] as QueueSnapshot; }, { get_retained: true });
  const backendUp = () => eventually(async () => {
    try { await spectator.session.call(Procedures.machinesList); return true; } catch { return false; }
  }, 60_000, 'backend registered'); // a child started through tsx; under CI's load it once took over 30 s

  let running: ReturnType<typeof startChild> | undefined;
  t.teardown(() => { running?.child.kill('SIGKILL'); });

  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const mark = players.map((p) => p.messages.length);
    running = startChild(configFile);
    await backendUp();

    // After a restart the backend tells every queued player where they stand.
    const rows = readQueue(dbPath);
    const waiting = rows.filter((x) => x.state !== 'starting' && x.state !== 'playing');
    await eventually(() => waiting.every((w, position) => {
      const p = players.find((x) => x.authid === w.authid)!;
      return p.messages.slice(mark[players.indexOf(p)]).some((m) => m.type === 'position' && m.position === position);
    }), 15_000, `iteration ${iteration}: positions republished`);
    await eventually(() => retained && JSON.stringify(retained.waiting.map((w) => w.name)) === JSON.stringify(waiting.map((w) => w.authid)), 15_000, 'retained snapshot matches SQLite');
    checkAgainstModel(t, readQueue(dbPath), model, `iteration ${iteration}, after restart`);

    // The scripted session: players join and leave at random, turns run, and the backend dies mid-way.
    autoConfirm = true;
    claw.options.autoResult = (n) => (n % 3 === 0 ? 'win' : 'lose');
    let stop = false;
    const actors = [0, 1, 2].map(async () => {
      while (!stop) {
        const p = players[Math.floor(random() * players.length)]!;
        await act(model, p, random() < 0.7);
        await sleep(random() * 40);
      }
    });
    await sleep(300 + random() * 1200);
    running.child.kill('SIGKILL');
    t.equal((await running.exited).signal, 'SIGKILL', `iteration ${iteration}: killed`);
    stop = true;
    await Promise.all(actors);
    // Quiet from here until after the restart: no confirmations, no new results.
    autoConfirm = false;
    claw.options.autoResult = undefined;
    await sleep(100);
    if (claw.turn) claw.finish('lose'); // the turn ends while the backend is down: nobody hears it

    checkAgainstModel(t, readQueue(dbPath), model, `iteration ${iteration}, after kill -9`);
  }

  // SIGTERM: the backend finishes and exits 0, the queue intact.
  running = startChild(configFile);
  await backendUp();
  const before = readQueue(dbPath);
  running.child.kill('SIGTERM');
  t.same(await running.exited, { code: 0, signal: null }, 'SIGTERM: clean exit');
  const after = readQueue(dbPath);
  t.same(after.map((x) => x.authid), before.map((x) => x.authid), 'queue intact');
  running = undefined;
});

t.test('CLI: a config error names the key and exits 2', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ router: { url: 'http://nope' }, database: { path: 'x.sqlite' }, tickets: { secret: 's' } }));
  const c = startChild(file);
  const { code } = await c.exited;
  t.equal(code, 2);
  t.match(c.stderr(), /invalid config at router\.url: must be a ws:\/\/ or wss:\/\/ URL/);
});
