#!/usr/bin/env node
// One attack of the hostile-client suite (system/test/hostile/attacks.ts),
// run over and over in its own process until told to stop: the attacker for
// `bench/keypress-latency.js --attack <name>`. Its own process, so that what
// it costs to attack is not charged to the system it attacks (which runs in
// the benchmark's process).
//
// Forked with IPC by keypress-latency.js: argv = JSON
// {attack, url, wsUrl, dataDir, machine, addresses, roundMs}; sends
// {type: 'round', report} after every round, {type: 'started'} once the first
// round began; stops after the round in progress on {type: 'stop'} (the
// parent kills it if a round takes too long).
if (!process.execArgv.some((a) => a.includes('@clawgate/source'))) {
  console.error('run with node --import tsx --conditions=@clawgate/source (keypress-latency.js forks it so)');
  process.exit(2);
}
const o = JSON.parse(process.argv[2]);
const { attackByName } = await import('../system/test/hostile/attacks.ts');
const { endpointOf } = await import('../system/test/hostile/raw-wamp.ts');

const attack = attackByName(o.attack);
const target = { ep: endpointOf(o.url, o.wsUrl), dataDir: o.dataDir, machine: o.machine };
let stopping = false;
process.on('message', (m) => { if (m?.type === 'stop') stopping = true; });
process.on('disconnect', () => process.exit(0));

let rounds = 0;
while (!stopping) {
  const round = attack.run(target, { addresses: o.addresses, until: Date.now() + o.roundMs });
  if (rounds === 0) process.send({ type: 'started' });
  try {
    process.send({ type: 'round', report: await round });
  } catch (e) {
    process.send({ type: 'round', error: String(e?.message ?? e) });
    await new Promise((r) => setTimeout(r, 200));
  }
  rounds++;
}
process.exit(0);
