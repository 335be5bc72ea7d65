#!/usr/bin/env node
// The router's own cost per message, without sockets: sessions of a real
// Router (the bench config, through fromCrossbar) on a transport that encodes
// what the router sends, exactly as WebSocketTransport does, and hands the
// bytes back here instead of to ws. What it measures is decode, validation,
// authorization, routing, metrics and encode: the part of a call or a
// delivery that is ours, with the kernel and ws taken out. Those two
// dominate the socket benchmarks (run.js) and swing with the machine; this
// one is steady to a few percent, so a change to the router's hot path can
// be judged in seconds. It is not a substitute for run.js: the issue's
// targets are end-to-end ratios.
//
//   node bench/router-path.js                 # router/dist (npm run build -w router first)
//   node --import tsx --conditions=@clawgate/source bench/router-path.js   # router/src
//   node bench/router-path.js --rounds 9 --calls 200000 --json
import { performance } from 'node:perf_hooks';
import { Router, fromCrossbar, silentLogger, jsonSerializer } from '@clawgate/router';
import { median, round } from './lib/stats.js';
import { routerConfig } from './lib/router-config.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const ROUNDS = opt('--rounds', 7);
const CALLS = opt('--calls', 100_000);
const DELIVERIES = opt('--deliveries', 1_000_000);
const JSON_OUT = args.includes('--json');

const { config } = fromCrossbar(routerConfig(0));
const router = new Router(config, { log: silentLogger() });
const endpoint = config.listeners[0].websocket.values().next().value;

/** A WebSocketTransport without the socket: encodes each message once per serializer, hands the bytes to `onBytes`. */
function open(onBytes) {
  const transport = {
    info: { kind: 'websocket', peer: 'tcp4:127.0.0.1:1', serializer: 'json', path: '/', listener: 'bench' },
    serializer: jsonSerializer,
    send(out) { onBytes(out.encoded(jsonSerializer)); },
    close() {},
    bufferedAmount() { return 0; },
  };
  const session = router.openSession(transport, endpoint.auth, endpoint.limits);
  session.receive(JSON.stringify([1, 'realm1', { roles: { caller: {}, callee: {}, publisher: {}, subscriber: {} } }]));
  return session;
}

// The claw control payload run.js sends, as JSON text once (the harness's own cost stays small).
const PAYLOAD = JSON.stringify({ cmd: 'move', x: 0.25, y: -0.5, player: 'p-0001' });

/** CALL in, INVOCATION out, YIELD in, RESULT out: µs of the router's CPU per call. */
function rpcRound(n) {
  let invocation = 0;
  let results = 0;
  const callee = open((b) => {
    // The request id of an INVOCATION: [68,<id>,...
    const s = b.toString('latin1', 4, 24);
    invocation = Number(s.slice(0, s.indexOf(',')));
  });
  callee.receive('[64,1,{},"bench.echo"]');
  const caller = open(() => { results++; });
  const t0 = performance.now();
  for (let i = 1; i <= n; i++) {
    caller.receive(`[48,${i},{},"bench.echo",[${i},${i},${PAYLOAD}]]`);
    callee.receive(`[70,${invocation},{},[[${i},${i},${PAYLOAD}]]]`);
  }
  const us = ((performance.now() - t0) * 1000) / n;
  if (results !== n + 1) throw new Error(`expected ${n} RESULTs, got ${results - 1}`);
  caller.transportClosed();
  callee.transportClosed();
  return us;
}

/** PUBLISH in, EVENT out to `subs` subscribers: µs of the router's CPU per delivery. */
function fanoutRound(subs, deliveries) {
  let got = 0;
  const sessions = [];
  for (let i = 0; i < subs; i++) {
    const s = open(() => { got++; });
    s.receive('[32,1,{},"bench.claw.control"]');
    sessions.push(s);
  }
  const pub = open(() => {});
  const before = got;
  const pubs = Math.ceil(deliveries / subs);
  const t0 = performance.now();
  for (let i = 1; i <= pubs; i++) pub.receive(`[16,${i},{},"bench.claw.control",[${i},${i},${PAYLOAD}]]`);
  const us = ((performance.now() - t0) * 1000) / (pubs * subs);
  if (got - before !== pubs * subs) throw new Error(`expected ${pubs * subs} EVENTs, got ${got - before}`);
  for (const s of [...sessions, pub]) s.transportClosed();
  return us;
}

const points = [
  ['rpc', 'µs/call', () => rpcRound(CALLS)],
  ['fanout 1', 'µs/delivery', () => fanoutRound(1, DELIVERIES / 10)],
  ['fanout 1000', 'µs/delivery', () => fanoutRound(1000, DELIVERIES)],
];
for (const [, , fn] of points) fn(); // warm-up: let V8 compile the path first
const out = [];
for (const [name, unit, fn] of points) {
  const runs = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(fn());
  const row = { point: name, unit, median: round(median(runs), 3), min: round(Math.min(...runs), 3), max: round(Math.max(...runs), 3), rounds: ROUNDS };
  out.push(row);
  if (JSON_OUT) console.log(JSON.stringify(row));
  else console.log(`${name.padEnd(12)} ${String(row.median).padStart(7)} ${unit}  (min ${row.min}, max ${row.max}, ${ROUNDS} rounds)`);
}
