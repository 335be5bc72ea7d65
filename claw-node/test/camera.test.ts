// The camera: its config key, the command's placeholders, the restart
// delays, the synthetic picture with its send-time stamp read back, and the
// supervisor running real child processes (sh) that print ffmpeg's progress,
// die and stall. ffmpeg itself and Janus are exercised by
// system/test/e2e-video.test.ts.
import { groupMembers } from '@clawgate/runtime/proc';
import t from 'tap';
import { STAMP, readStamp, stampBits, type CameraStatus, type VideoSource } from '@clawgate/protocol';
import { CameraConfig, fillCommand, syntheticArgs } from '../src/camera/camera-config.js';
import { restartDelay, nextState } from '../src/camera/camera-state.js';
import { CameraSupervisor } from '../src/camera/camera-supervisor.js';
import { newFrame, renderFrame } from '../src/camera/frame-render.js';
import { parseConfig } from '../src/config.js';

const node = { router: { url: 'ws://127.0.0.1:1/ws', auth: 'anonymous' }, machine: 'claw-1', driver: 'simulated' };
const target: VideoSource = { machine: 'claw-1', host: '127.0.0.1', port: 20000, payloadType: 96, codec: 'vp8' };

t.test('config: the camera key', async (t) => {
  t.equal(parseConfig(node).camera, undefined, 'absent: no camera');
  const c = parseConfig({ ...node, camera: { source: 'synthetic' } }).camera!;
  t.match(c, { width: 640, height: 480, fps: 30, bitrateKbps: 1000, restart: { initialDelayMs: 500, maxDelayMs: 15_000, factor: 2 }, failAfter: 5, stallSeconds: 5 });
  t.throws(() => parseConfig({ ...node, camera: { source: 'command' } }), /camera\.command: required with source "command"/);
  t.throws(() => parseConfig({ ...node, driver: 'gpio-cdev', wiring: undefined, camera: { source: 'synthetic' } }), /camera\.source: "synthetic" draws the simulated machine/);
  t.throws(() => parseConfig({ ...node, camera: { source: 'synthetic', fps: 0 } }), /camera\.fps/);
  t.throws(() => parseConfig({ ...node, camera: { source: 'synthetic', sauce: 1 } }), /camera/);
});

t.test('command placeholders; hostile hosts refused; the synthetic ffmpeg line', async (t) => {
  t.equal(fillCommand('rpicam-vid -o - | ffmpeg -i - -f rtp -payload_type {pt} rtp://{host}:{port}', target),
    'rpicam-vid -o - | ffmpeg -i - -f rtp -payload_type 96 rtp://127.0.0.1:20000');
  t.throws(() => fillCommand('x {host}', { ...target, host: '1.2.3.4; rm -rf /' }), /refusing RTP host/);
  const args = syntheticArgs(CameraConfig.parse({ source: 'synthetic' }), target);
  t.ok(args.includes('160x120'), 'drawn at a quarter size');
  t.ok(args.includes('scale=640:480:flags=neighbor,format=yuv420p'), 'scaled up without blurring the stamp');
  t.equal(args.at(-1), 'rtp://127.0.0.1:20000?pkt_size=1200');
  t.ok(args.includes('realtime') && args.includes('-lag-in-frames'), 'VP8 in realtime mode, no lookahead');
});

t.test('restart delays and states', async (t) => {
  const r = { initialDelayMs: 500, maxDelayMs: 4000, factor: 2 };
  t.same([0, 1, 2, 3, 4, 9].map((n) => restartDelay(r, n)), [500, 500, 1000, 2000, 4000, 4000]);
  t.equal(nextState('off', 'running'), 'off', 'stopped stays stopped');
  t.equal(nextState('running', 'restarting'), 'restarting');
});

t.test('the picture and its stamp', async (t) => {
  const f = newFrame(160, 120);
  const now = 1_796_540_976_726;
  renderFrame(f, { claw: { x: 0.5, y: 0.5, z: 0, holding: true }, prizes: [{ x: 0.2, y: 0.8 }] }, now);
  // Read back as the page does, at 640 × 480 (nearest-neighbour ×4).
  const luma = (x: number, y: number) => { const i = (Math.floor(y / 4) * 160 + Math.floor(x / 4)) * 3; return (f.data[i]! + f.data[i + 1]! + f.data[i + 2]!) / 3; };
  t.equal(readStamp(luma, 640, 480), now, 'the stamp reads back');
  t.equal(stampBits(now).length, STAMP.bits);
  const flipped = (x: number, y: number) => (x < 8 ? 255 - luma(x, y) : luma(x, y));
  t.equal(readStamp(flipped, 640, 480), undefined, 'one wrong bit fails the check');
  const px = (x: number, y: number) => Array.from(f.data.subarray((y * 160 + x) * 3, (y * 160 + x) * 3 + 3));
  t.same(px(80, 65), [236, 170, 40], 'the held prize in the claw, mid-box');
  const before = Buffer.from(f.data);
  renderFrame(f, { claw: { x: 0.9, y: 0.1, z: 1, holding: false }, prizes: [] }, now + 33);
  t.not(Buffer.compare(before, f.data), 0, 'the next frame differs');
});

function supervise(command: string, extra: Record<string, unknown> = {}) {
  const reports: CameraStatus[] = [];
  const cam = new CameraSupervisor(CameraConfig.parse({ source: 'command', command, restart: { initialDelayMs: 50, maxDelayMs: 200 }, failAfter: 3, reportSeconds: 1, ...extra }), {
    onStatus: (s) => reports.push(s), log: () => undefined,
  });
  return { cam, reports };
}

const until = async (what: string, fn: () => boolean, ms = 8000) => {
  const end = Date.now() + ms;
  while (!fn()) { if (Date.now() > end) throw new Error(`timed out: ${what}`); await new Promise((r) => setTimeout(r, 20)); }
};

t.test('supervisor: running on progress, restarted when it dies, failed after quick deaths', async (t) => {
  const { cam, reports } = supervise(`printf 'frame=    1 fps=0\\r'; sleep 0.3; printf 'frame=   10 fps=30 bitrate= 800.0kbits/s\\r' >&2; echo 'port {port}' >&2; exit 3`);
  t.teardown(() => cam.stop());
  t.equal(cam.status().state, 'waiting', 'waits for a target');
  cam.setTarget(target);
  await until('running', () => reports.some((r) => r.state === 'running'));
  await until('restart', () => cam.status().restarts >= 1);
  t.match(reports.find((r) => r.restarts >= 1 && r.state === 'restarting')?.lastError, /exited with code 3: port 20000/, 'why it ended, with what it said last');
  await until('failed', () => cam.status().state === 'failed' || reports.some((r) => r.state === 'failed'));
  t.pass('quick deaths in a row are reported as failed');
  await cam.stop();
  t.equal(cam.status().state, 'off');
});

t.test('supervisor: a stalled pipeline is killed and restarted; stop ends the whole pipeline', async (t) => {
  const { cam } = supervise(`printf 'frame=    5\\r' >&2; sleep 30 | cat`, { stallSeconds: 1 });
  cam.setTarget(target);
  await until('running', () => cam.status().state === 'running');
  const first = cam.pid;
  await until('restarted after the stall', () => cam.status().restarts >= 1, 10_000);
  t.match(cam.status().lastError, /no frame for 1 s/);
  await until('a new process', () => cam.pid !== undefined && cam.pid !== first);
  const pid = cam.pid!;
  await cam.stop();
  // Members of its process group that still run (zombies waiting for init do not count).
  const running = () => groupMembers(pid);
  await until('the group to end', () => running().length === 0, 3000).catch(() => undefined);
  t.same(running(), [], 'the pipeline\'s whole process group is gone');
});
