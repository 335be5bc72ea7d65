// Process-level exit paths, systemd watchdog, keys. (The reconnect backoff's
// test moved with it to runtime/test/backoff.test.ts.)
import t from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { installProcessHandlers } from '../src/process-handlers.js';
import { Watchdog, watchdogIntervalMs } from '../src/watchdog.js';
import { generateKeyFile, keyFromSeed, readKeyFile } from '../src/wamp/cryptosign.js';

class FakeProcess extends EventEmitter {
  exits: number[] = [];
  exit(code: number) { this.exits.push(code); }
}

function fakeNode() {
  const calls: string[] = [];
  return {
    calls,
    releaseNow() { calls.push('release'); return true; },
    async stop() { calls.push('stop'); },
  };
}

t.test('SIGTERM and SIGINT: release at once, then stop cleanly, exit 0', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    const proc = new FakeProcess();
    const node = fakeNode();
    const remove = installProcessHandlers(node, proc, () => {});
    proc.emit(signal);
    t.same(node.calls, ['release', 'stop'], `${signal}: released before stopping`);
    await new Promise((r) => setImmediate(r));
    t.same(proc.exits, [0]);
    proc.emit(signal);
    t.same(proc.exits, [0, 1], 'a second signal exits at once');
    remove();
    t.equal(proc.listenerCount(signal), 0);
  }
});

t.test('an uncaught error or rejection releases synchronously and exits 1', async (t) => {
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    const proc = new FakeProcess();
    const node = fakeNode();
    const logs: string[] = [];
    installProcessHandlers(node, proc, (level, msg) => logs.push(`${level} ${msg}`));
    proc.emit(event, new Error('boom'));
    t.same(node.calls, ['release'], `${event}: released`);
    t.same(proc.exits, [1]);
    t.match(logs[0], /^fatal uncaught error; outputs released/);
  }
});

t.test('systemd watchdog interval and notifications', async (t) => {
  t.equal(watchdogIntervalMs({}, 1), undefined, 'not under systemd');
  t.equal(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/x' }, 1), undefined, 'no WatchdogSec');
  t.equal(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '10000000' }, 1), 5000, 'half of WatchdogSec');
  t.equal(watchdogIntervalMs({ NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '10000000', WATCHDOG_PID: '2' }, 1), undefined, 'meant for another pid');
  const sent: string[][] = [];
  const off = new Watchdog((...a) => sent.push(a), {}, 1);
  off.start(); off.status('ready'); off.stop();
  t.same(sent, [], 'outside systemd nothing is sent');
  const on = new Watchdog((...a) => sent.push(a), { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '400000' }, 1);
  on.start();
  on.status('ready');
  await new Promise((r) => setTimeout(r, 700));
  on.stop();
  t.same(sent[0], ['--ready', 'STATUS=started']);
  t.same(sent[1], ['STATUS=ready']);
  t.ok(sent.some((a) => a[0] === 'WATCHDOG=1'), 'watchdog pings');
  t.same(sent.at(-1), ['STOPPING=1']);
});

t.test('cryptosign keys: mint, read, sign', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'claw-key-'));
  const path = join(dir, 'claw1.key');
  const minted = generateKeyFile(path, 'claw1');
  t.equal(statSync(path).mode & 0o777, 0o600, 'mode 0600');
  t.throws(() => generateKeyFile(path, 'claw1'), /EEXIST/, 'never overwrites a key');
  const read = readKeyFile(path);
  t.equal(read.publicKey, minted.publicKey);
  t.match(read.publicKey, /^[0-9a-f]{64}$/);
  const challenge = Buffer.from(nacl.randomBytes(32)).toString('hex');
  const signed = read.sign(challenge);
  t.equal(signed.length, 192, 'hex(signature 64 B ‖ challenge 32 B)');
  t.equal(signed.slice(128), challenge);
  t.ok(nacl.sign.detached.verify(Buffer.from(challenge, 'hex'), Buffer.from(signed.slice(0, 128), 'hex'), Buffer.from(read.publicKey, 'hex')), 'verifies with the public key');
  // RFC 8032 test vector 1: seed → public key
  t.equal(keyFromSeed(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex')).publicKey,
    'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  writeFileSync(path + '.bad', 'not a key');
  t.throws(() => readKeyFile(path + '.bad'), /64 hex characters/);
  t.throws(() => readKeyFile(join(dir, 'missing')), /cannot read key file/);
});
