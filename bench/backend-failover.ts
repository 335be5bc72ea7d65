#!/usr/bin/env node
// Fail-over time (issue 19): two backends on one PostgreSQL database, one
// machine; the instance that owns it is killed (SIGKILL) at the moment the
// running turn ends at the node, and we time kill → the next turn started
// (the node's start_turn called by the other instance, after that one took
// the machine over, recorded the result, asked the next player and got
// their ready). --kills times (20 by default), alternating the owner; the
// killed instance is restarted each time (it becomes the standby).
// Not a test: a measurement, printed and appended to
// bench/results/backend-failover-<date>.jsonl.
//
//   node --import tsx --conditions=@clawgate/source bench/backend-failover.ts [--kills 20] [--lease 3]
//
// Backends: the real CLI in their own processes (cluster.leaseSeconds =
// --lease). Router, players and the scripted claw node: this process.
// The players confirm a ready check at once, so what is timed is the hand-
// over, not a person.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Procedures, type PlayerMessage } from '@clawgate/protocol';
import { PgCluster, pgUnavailable } from '../backend/test/pg-cluster.js';
import type { Player as PlayerT } from '../backend/test/helpers.js';
import type { Instance as InstanceT } from '../backend/test/instances.js';
// The test fixtures import tap, whose 30 s default timeout would end a long run: off before they load.
process.env.TAP_TIMEOUT ??= '0';
const { Instance } = await import('../backend/test/instances.js');
const { Player, ScriptedClaw, eventually, sleep, startClawRouter } = await import('../backend/test/helpers.js');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => { const i = args.indexOf(name); return i === -1 ? dflt : args[i + 1]!; };
const KILLS = Number(arg('--kills', '20'));
const LEASE = Number(arg('--lease', '3'));
const M = 'claw-1';

const why = pgUnavailable();
if (why) { console.error(`needs a local PostgreSQL: ${why}`); process.exit(2); }
const cluster = await PgCluster.start();
const dir = mkdtempSync(join(tmpdir(), 'clawgate-bench-failover-'));
const r = await startClawRouter([M]);
const claw = await new ScriptedClaw(r, M).start();
const db = { url: await cluster.createDatabase('failover') };
const cfg = {
  defaults: { readyWindowSeconds: 30, moveSeconds: 600, graceSeconds: 600, maxQueue: 50 },
  presence: { recoveryWindowSeconds: 0 },
  cluster: { leaseSeconds: LEASE },
};
const instances = [await Instance.create('fa', dir, r.url, db, cfg), await Instance.create('fb', dir, r.url, db, cfg)];
const players: PlayerT[] = [];
const times: number[] = [];
try {
  for (const i of instances) i.start();
  for (const i of instances) await i.up();
  // Six players who confirm every ready check at once and, once their turn ended, queue again.
  for (let k = 0; k < 6; k++) {
    const p = await Player.withTicket(r, `pf${k}`);
    players.push(p);
    await p.session.subscribe(`claw.player.${p.authid}`, (a: unknown[] | undefined) => {
      const m = a?.[0] as PlayerMessage;
      if (m.type === 'get_ready') void p.call(Procedures.turnReady, [M]).catch(() => undefined);
      if (m.type === 'control' && !m.control) void p.call(Procedures.requestSlot, [M]).catch(() => undefined);
    });
    await p.call(Procedures.requestSlot, [M]);
  }
  const owner = async (): Promise<InstanceT | undefined> => {
    for (const i of instances) if ((await i.health())?.owns.includes(M)) return i;
    return undefined;
  };
  for (let k = 1; k <= KILLS; k++) {
    // A turn runs, both instances are attached, and one of them owns the machine.
    await eventually(() => claw.turn !== undefined, 60_000, 'a turn running');
    for (const i of instances) await i.up();
    const victim = await eventually(owner, 30_000, 'an owner');
    const starts = claw.starts.length;
    const t0 = performance.now();
    await victim.kill();
    claw.finish('lose');
    await eventually(() => claw.starts.length > starts, 60_000, 'the next turn started');
    const ms = performance.now() - t0;
    times.push(ms);
    const row = { bench: 'backend-failover', kill: k, ms: Math.round(ms), leaseSeconds: LEASE, cpus: cpus().length, load1: +loadavg()[0]!.toFixed(2), at: new Date().toISOString() };
    console.log(JSON.stringify(row));
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    appendFileSync(join(ROOT, 'bench', 'results', `backend-failover-${new Date().toISOString().slice(0, 10)}.jsonl`), `${JSON.stringify(row)}\n`);
    victim.start();
    await victim.up();
    await sleep(500);
  }
} finally {
  await Promise.all(players.map((p) => p.disconnect()));
  for (const i of instances) await i.kill();
  await claw.stop();
  await r.stop();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
const s = [...times].sort((a, b) => a - b);
console.log(`\nfail-over (kill -9 of the owner → next turn started by the other instance), ${s.length} kills, lease ${LEASE} s:`);
console.log(`median ${Math.round(s[Math.floor(s.length / 2)]!)} ms, min ${Math.round(s[0]!)} ms, max ${Math.round(s[s.length - 1]!)} ms`);
