#!/usr/bin/env node
// claw.queue.request_slot under a crowd (issue 19): N players (1,000 by
// default), already connected, all call request_slot at the same moment;
// calls/s (N over the time from the first call sent to the last answer) and
// latency percentiles (each call, sent → answered). Per setup:
//   sqlite    one backend on a SQLite file (the only way SQLite runs)
//   pg-1      one backend on PostgreSQL
//   pg-2      two backends on one PostgreSQL database (shared registrations:
//             the router spreads the calls over both)
// Not a test: a measurement, printed and appended to
// bench/results/backend-queue-<date>.jsonl.
//
//   node --import tsx --conditions=@clawgate/source bench/backend-queue.ts [--players 1000] [--machines 10] [--rounds 3] [--setups sqlite,pg-1,pg-2]
//
// Each backend is the real CLI (bin/clawgate-backend.js) in its own process;
// the router, the players and the scripted claw nodes run in this process.
// PostgreSQL: a throwaway cluster (initdb in a temp folder, fsync off, as the
// tests run it). The players are spread evenly over the machines; every round
// starts from empty queues (everyone leaves between rounds, not timed).
import { cpus, loadavg } from 'node:os';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Procedures } from '@clawgate/protocol';
import { PgCluster, pgUnavailable } from '../backend/test/pg-cluster.js';
import type { Player as PlayerT, TestDatabase } from '../backend/test/helpers.js';
// The test fixtures import tap, whose 30 s default timeout would end a long run: off before they load.
process.env.TAP_TIMEOUT ??= '0';
const { Instance } = await import('../backend/test/instances.js');
const { Player, ScriptedClaw, startClawRouter } = await import('../backend/test/helpers.js');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => { const i = args.indexOf(name); return i === -1 ? dflt : args[i + 1]!; };
const PLAYERS = Number(arg('--players', '1000'));
const MACHINES = Array.from({ length: Number(arg('--machines', '10')) }, (_, i) => `claw-${i + 1}`);
const ROUNDS = Number(arg('--rounds', '3'));
const SETUPS = arg('--setups', 'sqlite,pg-1,pg-2').split(',');

function pct(sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!; }

async function runSetup(setup: string, cluster: PgCluster | undefined): Promise<Record<string, unknown>[]> {
  const dir = mkdtempSync(join(tmpdir(), 'clawgate-bench-queue-'));
  const r = await startClawRouter(MACHINES);
  const claws = await Promise.all(MACHINES.map((m) => new ScriptedClaw(r, m).start()));
  const db: TestDatabase = setup === 'sqlite' ? join(dir, 'queue.sqlite') : { url: await cluster!.createDatabase('bench') };
  const n = setup === 'pg-2' ? 2 : 1;
  const cfg = {
    // Long windows: the first player of each queue is asked to get ready, and nobody answers.
    defaults: { maxQueue: PLAYERS, readyWindowSeconds: 30, moveSeconds: 30, graceSeconds: 60 },
    rateLimit: { calls: 1000, perSeconds: 1 },
  };
  const instances = await Promise.all(Array.from({ length: n }, (_, i) => Instance.create(`q${i}`, dir, r.url, db, cfg)));
  const players: PlayerT[] = [];
  try {
    for (const i of instances) i.start();
    for (const i of instances) await i.up();
    for (let i = 0; i < PLAYERS; i += 50) {
      players.push(...await Promise.all(Array.from({ length: Math.min(50, PLAYERS - i) }, (_, k) => Player.withTicket(r, `pb${i + k}`))));
    }
    const rows: Record<string, unknown>[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const lat: number[] = [];
      let failed = 0;
      const t0 = performance.now();
      await Promise.all(players.map(async (p, i) => {
        const s = performance.now();
        try { await p.call(Procedures.requestSlot, [MACHINES[i % MACHINES.length]]); } catch { failed++; }
        lat.push(performance.now() - s);
      }));
      const wall = performance.now() - t0;
      lat.sort((a, b) => a - b);
      const row = {
        bench: 'backend-queue', setup, instances: n, players: PLAYERS, machines: MACHINES.length, round,
        callsPerSecond: Math.round((PLAYERS / wall) * 1000), p50: +pct(lat, 50).toFixed(1), p99: +pct(lat, 99).toFixed(1), max: +lat[lat.length - 1]!.toFixed(1), failed,
        cpus: cpus().length, load1: +loadavg()[0]!.toFixed(2), at: new Date().toISOString(),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
      // Everyone leaves (not timed), so the next round joins empty queues again.
      await Promise.all(players.map((p, i) => p.call(Procedures.leave, [MACHINES[i % MACHINES.length]]).catch(() => undefined)));
    }
    return rows;
  } finally {
    await Promise.all(players.map((p) => p.disconnect()));
    for (const i of instances) await i.stop();
    for (const c of claws) await c.stop();
    await r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const needPg = SETUPS.some((s) => s.startsWith('pg'));
const why = needPg ? pgUnavailable() : undefined;
if (why) { console.error(`PostgreSQL setups need a local PostgreSQL: ${why}`); process.exit(2); }
const cluster = needPg ? await PgCluster.start() : undefined;
const out = join(ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
const file = join(out, `backend-queue-${new Date().toISOString().slice(0, 10)}.jsonl`);
const summary: string[] = [];
try {
  for (const setup of SETUPS) {
    const rows = await runSetup(setup, cluster);
    for (const row of rows) appendFileSync(file, `${JSON.stringify(row)}\n`);
    const med = (k: string) => { const v = rows.map((x) => x[k] as number).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
    summary.push(`| ${setup} | ${rows[0]!.instances} | ${med('callsPerSecond')} | ${med('p50')} | ${med('p99')} | ${Math.max(...rows.map((x) => x.max as number))} | ${rows.reduce((a, x) => a + (x.failed as number), 0)} |`);
  }
} finally {
  await cluster?.stop();
}
console.log(`\n${PLAYERS} players on ${MACHINES.length} machines, all calling request_slot at once; medians of ${ROUNDS} rounds\n`);
console.log('| setup | instances | calls/s | p50 ms | p99 ms | max ms | failed |');
console.log('|---|---|---|---|---|---|---|');
for (const l of summary) console.log(l);
