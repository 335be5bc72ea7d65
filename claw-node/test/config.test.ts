// Config validation: defaults, and errors that name the key.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Defaults } from '@clawgate/protocol';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config.js';

const minimal = { router: { url: 'ws://127.0.0.1:8080/ws' }, machine: 'claw1', key: '/etc/clawgate/claw1.key', driver: 'simulated' };

t.test('defaults', async (t) => {
  const c = parseConfig(minimal);
  t.equal(c.router.realm, 'claw');
  t.equal(c.router.auth, 'cryptosign', 'cryptosign unless told otherwise');
  t.equal(c.timings.holdTimeoutMs, Defaults.holdTimeoutMs, 'the protocol default hold timeout');
  t.equal(c.timings.coinPulseMs, 150);
  t.equal(c.reconnect.maxDelayMs, 15_000);
  t.equal(c.simulator.seed, 1);
  t.equal(c.router.maxMessageBytes, 1024 * 1024, 'inbound messages up to 1 MiB');
});

t.test('errors name the key', async (t) => {
  const bad = (input: unknown, pattern: RegExp, what: string) => t.throws(() => parseConfig(input), { name: 'ConfigError', message: pattern }, what);
  bad({ ...minimal, timings: { coinPulseMs: 'long' } }, /timings\.coinPulseMs: Expected number, received string/, 'wrong type');
  bad({ ...minimal, timings: { holdTimeoutMs: -5 } }, /timings\.holdTimeoutMs: Number must be greater than 0/, 'negative');
  bad({ ...minimal, timings: { coinPulse: 100 } }, /timings: Unrecognized key\(s\) in object: 'coinPulse'/, 'typo in a key');
  bad({ ...minimal, machine: 'Claw 1' }, /machine: must be 1–64 of \[0-9a-z_-\]/, 'bad machine id');
  bad({ ...minimal, router: { url: 'http://x' } }, /router\.url: must be a ws:\/\/ or wss:\/\/ URL/, 'bad url');
  bad({ ...minimal, driver: 'gpio' }, /driver: Invalid enum value/, 'unknown driver');
  bad({ ...minimal, router: { url: 'ws://x', maxMessageBytes: 100 } }, /router\.maxMessageBytes: Number must be greater than or equal to 4096/, 'a message bound too small to join');
  bad({ ...minimal, key: undefined }, /key: required with router\.auth "cryptosign"/, 'cryptosign needs a key');
  bad({ ...minimal, driver: 'libgpiod' }, /wiring: required with driver "libgpiod"/, 'libgpiod needs wiring');
  const wiring = { outputs: { up: { chip: 0, line: 1 }, down: { chip: 0, line: 2 }, left: { chip: 0, line: 3 }, right: { chip: 0, line: 4 }, drop: { chip: 0, line: 5 } }, inputs: { prize: { chip: 0, line: 6 } } };
  bad({ ...minimal, driver: 'libgpiod', wiring }, /wiring\.outputs\.coin: Required/, 'a missing output');
  bad({ ...minimal, driver: 'libgpiod', wiring: { ...wiring, outputs: { ...wiring.outputs, coin: { chip: 0, line: 7 } }, inputs: { prize: { chip: 0, line: 6, bias: 'up' } } } }, /wiring\.inputs\.prize\.bias: Invalid enum value/, 'bad bias');
  t.ok(parseConfig({ ...minimal, key: undefined, router: { url: 'ws://x', auth: 'anonymous' } }), 'anonymous needs no key');
});

t.test('files: JSON and YAML, key relative to the file, errors name the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'claw-config-'));
  const yaml = join(dir, 'node.yaml');
  writeFileSync(yaml, 'router:\n  url: ws://router.local:8080/ws\nmachine: claw2\nkey: keys/claw2.key\ndriver: simulated\ntimings:\n  moveSecondz: 3\n');
  t.throws(() => loadConfigFile(yaml), { message: new RegExp(`^${yaml}: timings: Unrecognized key\\(s\\) in object: 'moveSecondz'`) });
  writeFileSync(yaml, 'router:\n  url: ws://router.local:8080/ws\nmachine: claw2\nkey: keys/claw2.key\ndriver: simulated\n');
  t.equal(loadConfigFile(yaml).key, join(dir, 'keys/claw2.key'));
  const json = join(dir, 'node.json');
  writeFileSync(json, JSON.stringify({ ...minimal, key: '/abs/k' }));
  t.equal(loadConfigFile(json).key, '/abs/k');
  writeFileSync(json, '{ "router": ');
  t.throws(() => loadConfigFile(json), { message: /not valid JSON/ });
  t.throws(() => loadConfigFile(join(dir, 'nope.json')), ConfigError);
});
