// The systemd watchdog for real: the CLI runs as a systemd service would see
// it (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID = the main process), and a
// Unix datagram socket stands in for systemd's notify socket. It must receive
// READY=1, then WATCHDOG=1 pings, and STOPPING=1 on SIGTERM, sent through the
// real `systemd-notify`.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './helpers.js';

const bin = fileURLToPath(new URL('../bin/clawgate-claw.js', import.meta.url));

function has(cmd: string, args: string[]): boolean {
  try { execFileSync(cmd, args, { stdio: 'ignore' }); return true; } catch { return false; }
}

// systemd's side of the socket. systemd-notify (systemd >= 246) ends each message with a
// barrier: it passes a pipe fd and waits until the receiver closed it, as systemd does.
const RECEIVER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(raw[: len(raw) - len(raw) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    if data:
        print(data.decode().replace("\\n", "|"), flush=True)
`;

const missing = !has('systemd-notify', ['--version']) ? 'systemd-notify is not installed'
  : !has('python3', ['--version']) ? 'python3 (the stand-in notify socket) is not installed' : false;

t.test('under systemd: READY=1, WATCHDOG=1 pings, STOPPING=1 on SIGTERM', { skip: missing }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'claw-wd-'));
  const procs: ChildProcess[] = [];
  t.teardown(() => { for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });
  const socketPath = join(dir, 'notify');
  const receiver = spawn('python3', ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(receiver);
  const got: string[] = [];
  let buffer = '';
  receiver.stdout!.on('data', (d) => {
    buffer += d;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    got.push(...lines);
  });
  await eventually(() => got.includes('LISTENING'), 'notify socket bound', 15_000);

  const config = join(dir, 'node.json');
  // No router listening: the node keeps trying to connect; the watchdog is about the process.
  writeFileSync(config, JSON.stringify({ router: { url: 'ws://127.0.0.1:1/claw', auth: 'anonymous' }, machine: 'wd1', driver: 'simulated', logLevel: 'silent' }));
  // As systemd starts it: WATCHDOG_PID is the main process (exec keeps the shell's pid), and
  // the bin may run the node in that process or in a child (a stale build): both must ping.
  const node = spawn('sh', ['-c', 'WATCHDOG_PID=$$ exec "$0" "$@"', process.execPath, bin, '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000' },
  });
  procs.push(node);
  let stderr = '';
  node.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => node.on('exit', (code, signal) => r({ code, signal })));

  await eventually(() => got.some((l) => l.split('|').includes('READY=1')), `READY=1 (got ${JSON.stringify(got)}; stderr ${stderr})`, 30_000);
  await eventually(() => got.filter((l) => l === 'WATCHDOG=1').length >= 3, `three WATCHDOG=1 pings (got ${JSON.stringify(got)})`, 30_000);
  t.ok(got.some((l) => l.split('|').some((a) => a.startsWith('STATUS='))), 'status text for systemctl status');
  node.kill('SIGTERM');
  t.same(await exited, { code: 0, signal: null }, 'clean exit on SIGTERM');
  await eventually(() => got.includes('STOPPING=1'), `STOPPING=1 (got ${JSON.stringify(got)})`, 15_000);
  const ready = got.findIndex((l) => l.split('|').includes('READY=1'));
  const firstPing = got.indexOf('WATCHDOG=1');
  t.ok(ready >= 0 && firstPing > ready, 'READY=1 before the first ping');
});

t.test('no WATCHDOG_USEC, or a watchdog meant for another process: no pings, only READY and STATUS', { skip: missing }, async (t) => {
  const { Watchdog } = await import('../src/watchdog.js');
  const sent: string[][] = [];
  const other = new Watchdog((...a) => sent.push(a), { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid + 1) }, process.pid);
  other.start();
  await new Promise((r) => setTimeout(r, 200));
  other.stop();
  t.notOk(sent.some((a) => a.includes('WATCHDOG=1')), 'no pings for another pid');
  t.ok(sent.some((a) => a.includes('--ready')), 'READY still sent');
});
