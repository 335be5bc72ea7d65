// The node logging in with its Ed25519 key (WAMP-cryptosign) against the
// real router. Skipped while the router does not support cryptosign yet
// (its config reader then lists the method as unsupported).
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router, fromCrossbar, silentLogger } from '@clawgate/router';
import { startClawNode } from '../src/node.js';
import { generateKeyFile } from '../src/wamp/cryptosign.js';
import { clawRealmConfig, eventually, fastNodeConfig, sleep } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'claw-cs-'));
const good = generateKeyFile(join(dir, 'm9.key'), 'm9');
generateKeyFile(join(dir, 'intruder.key'), 'm9');

function cryptosignConfig(): unknown {
  const cfg = clawRealmConfig() as { workers: { transports: { websocket: Record<string, { auth: unknown }> }[] }[] };
  cfg.workers[0]!.transports[0]!.websocket.claw!.auth = {
    cryptosign: { type: 'static', principals: { m9: { realm: 'claw', role: 'claw', authorized_keys: [good.publicKey] } } },
  };
  return cfg;
}

let unsupported: string | false = false;
try {
  const loaded = fromCrossbar(cryptosignConfig());
  if (loaded.unsupported.some((k) => k.includes('cryptosign'))) unsupported = 'the router does not support cryptosign yet';
} catch (e) {
  unsupported = `the router rejects a cryptosign config: ${(e as Error).message}`;
}

t.test('a node joins with its key; the same machine id with another key does not', { skip: unsupported }, async (t) => {
  const router = new Router(fromCrossbar(cryptosignConfig()).config, { log: silentLogger() });
  await router.start();
  t.teardown(() => router.stop(200));
  const port = Object.values(router.ports())[0]!;
  const node = await startClawNode(fastNodeConfig(port, 'm9', { router: { url: `ws://127.0.0.1:${port}/claw`, auth: 'cryptosign' }, key: join(dir, 'm9.key') }));
  t.teardown(() => node.stop());
  await eventually(() => node.machine.state === 'ready', 'joined with cryptosign and ready');
  const local = await router.localSession('claw');
  const sessions = (await local.call('wamp.session.list')).args[0] as number[];
  const details = await Promise.all(sessions.map(async (id) => (await local.call('wamp.session.get', [id])).args[0] as { authid: string; authrole: string; authmethod: string }));
  t.ok(details.some((d) => d.authid === 'm9' && d.authrole === 'claw' && d.authmethod === 'cryptosign'), 'authid = machine id, role claw, method cryptosign');

  const intruder = await startClawNode(fastNodeConfig(port, 'm9', { router: { url: `ws://127.0.0.1:${port}/claw`, auth: 'cryptosign' }, key: join(dir, 'intruder.key') }));
  t.teardown(() => intruder.stop());
  await sleep(1500);
  t.notOk(intruder.connected, 'a key the router does not know is refused');
  t.equal(intruder.machine.state, 'offline');
  local.close();
});
