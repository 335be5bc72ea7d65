// The video service's decisions without Janus (system/test/e2e-video.test.ts
// runs the real one): RTP port allocation, viewer limits, the `video` config
// section, and the service against a media server that records what it is
// asked (the boundary: Janus's API), so that who may use which viewer, what a
// leaving session takes with it and what a Janus restart re-creates are
// pinned down exactly.
import t from 'tap';
import { VideoErrors } from '@clawgate/protocol';
import { parseConfig } from '../src/config.js';
import { silentLogger } from '../src/logger.js';
import type { JanusHandleEvent, MediaServer } from '../src/video/janus-client.js';
import { refusal } from '../src/video/limits.js';
import { allocatePort, capacity } from '../src/video/ports.js';
import { VideoService } from '../src/video/video-service.js';

t.test('ports: sticky per machine, even, the longest unused given away only when full', async (t) => {
  const r = { min: 20001, max: 20006 };
  t.equal(capacity(r), 3, '20002, 20004, 20006');
  t.equal(capacity({ min: 20000, max: 20004 }), 3);
  t.equal(capacity({ min: 20001, max: 20001 }), 0);
  const assigned = new Map<string, { port: number; lastUsed: number }>();
  const a = allocatePort(r, assigned, 'a', () => true)!;
  t.same(a, { port: 20002 }, 'the first even port');
  assigned.set('a', { port: a.port, lastUsed: 1 });
  t.same(allocatePort(r, assigned, 'a', () => true), { port: 20002 }, 'a machine keeps its port');
  assigned.set('b', { port: allocatePort(r, assigned, 'b', () => true)!.port, lastUsed: 2 });
  t.equal(assigned.get('b')!.port, 20004);
  assigned.set('c', { port: allocatePort(r, assigned, 'c', () => true)!.port, lastUsed: 3 });
  t.equal(assigned.get('c')!.port, 20006);
  t.equal(allocatePort(r, assigned, 'd', () => true), undefined, 'full of machines in use: none');
  t.same(allocatePort(r, assigned, 'd', (m) => m === 'a'), { port: 20004, evict: 'b' }, 'the longest unused idle machine gives its port up');
});

t.test('limits: session, then machine, then total', async (t) => {
  const l = { perSession: 2, perMachine: 3, total: 4 };
  t.equal(refusal({ session: 1, machine: 2, total: 3 }, l), undefined);
  t.equal(refusal({ session: 2, machine: 0, total: 0 }, l), 'session');
  t.equal(refusal({ session: 0, machine: 3, total: 0 }, l), 'machine');
  t.equal(refusal({ session: 0, machine: 0, total: 4 }, l), 'total');
});

const minimal = { router: { url: 'ws://127.0.0.1:8080/ws' }, database: { path: ':memory:' }, tickets: { secret: 's3cret' } };

t.test('config: the video section, its defaults and errors by key', async (t) => {
  t.equal(parseConfig(minimal).video, undefined, 'no section: no video service');
  const v = parseConfig({ ...minimal, video: { janus: { url: 'ws://127.0.0.1:8188', adminKey: { env: 'K' } } } }, { env: { K: 'key' } }).video!;
  t.equal(v.janus.adminKey, 'key', 'secrets by reference');
  t.equal(v.janus.mountpointSecret, 'key', 'the mountpoint secret defaults to the admin key');
  t.same(v.rtp, { host: '127.0.0.1', portMin: 20000, portMax: 20998, codec: 'vp8', payloadType: 96 });
  t.same(v.limits, { perSession: 2, perOperatorSession: 64, perMachine: 500, total: 2000 });
  t.same(v.iceServers, []);
  t.throws(() => parseConfig({ ...minimal, video: { janus: { url: 'http://x', adminKey: 'k' } } }), /video\.janus\.url: must be a ws/);
  t.throws(() => parseConfig({ ...minimal, video: { janus: { url: 'ws://x', adminKey: 'k' }, rtp: { portMin: 20001, portMax: 20001 } } }), /video\.rtp\.portMax/);
  t.throws(() => parseConfig({ ...minimal, video: { janus: { url: 'ws://x', adminKey: 'k' }, limits: { perSesion: 3 } } }), /video\.limits/);
  t.throws(() => parseConfig({ ...minimal, video: { janus: { url: 'ws://x', adminKey: { env: 'NOPE' } } } }, { env: {} }), /video\.janus\.adminKey: environment variable NOPE is not set/);
});

/** Janus's API as the service sees it, recording requests; offers on `watch`, and events on demand. */
class FakeMedia implements MediaServer {
  connected = true;
  admin: Record<string, unknown>[] = [];
  handles = new Map<number, (e: JanusHandleEvent) => void>();
  detached: number[] = [];
  started: { handle: number; sdp: string }[] = [];
  private next = 1;
  private onC: (() => void)[] = [];
  private onD: (() => void)[] = [];
  onConnect(fn: () => void): void { this.onC.push(fn); }
  onDisconnect(fn: () => void): void { this.onD.push(fn); }
  /** While set, admin requests and attaches wait for it (Janus slow to answer). */
  gate: Promise<void> | undefined;
  async adminRequest(body: Record<string, unknown>): Promise<Record<string, unknown>> { this.admin.push(body); await this.gate; return { streaming: 'ok' }; }
  async attach(onEvent: (e: JanusHandleEvent) => void): Promise<number> { await this.gate; const id = this.next++; this.handles.set(id, onEvent); return id; }
  async message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }): Promise<JanusHandleEvent> {
    if (body.request === 'watch') return { janus: 'event', jsep: { type: 'offer', sdp: `v=0 offer for handle ${handle}` } };
    if (body.request === 'start') this.started.push({ handle, sdp: jsep!.sdp });
    return { janus: 'event' };
  }
  async detach(handle: number): Promise<void> { this.handles.delete(handle); this.detached.push(handle); }
  restart(): void { this.connected = false; for (const f of this.onD) f(); this.connected = true; for (const f of this.onC) f(); }
}

const section = parseConfig({ ...minimal, video: { janus: { url: 'ws://127.0.0.1:1', adminKey: 'admin' }, rtp: { portMin: 30000, portMax: 30010 }, limits: { perSession: 2, perMachine: 3, total: 4 } } }).video!;
const fault = async (p: Promise<unknown> | (() => unknown)) => {
  try { await (typeof p === 'function' ? p() : p); return 'ok'; } catch (e) { return (e as { uri?: string }).uri; }
};

t.test('service: mountpoints follow the nodes, viewers their sessions', async (t) => {
  const media = new FakeMedia();
  const video = new VideoService(section, media, silentLogger());
  t.equal(await fault(video.watch({ session: 1, role: 'spectator' }, 'claw-1')), VideoErrors.unavailable, 'no camera yet: no video');

  const src = await video.source('claw-1', 100);
  t.same(src, { machine: 'claw-1', host: '127.0.0.1', port: 30000, payloadType: 96, codec: 'vp8' });
  t.match(media.admin[0], { request: 'create', admin_key: 'admin', id: 30000, is_private: true, secret: 'admin', permanent: false, media: [{ type: 'video', port: 30000, pt: 96, codec: 'vp8' }] });
  t.same(await video.source('claw-1', 101), src, 'asking again (a reconnected node) keeps the port');
  t.equal(media.admin.length, 1, 'and creates nothing new');

  const ann = { session: 1, role: 'spectator' };
  const offer = await video.watch(ann, 'claw-1');
  t.match(offer, { machine: 'claw-1', offer: { type: 'offer' }, iceServers: [] });
  t.ok(offer.viewer.length >= 16, 'an unguessable viewer id');
  const eve = { session: 2, role: 'player' };
  t.equal(await fault(video.answer(eve, offer.viewer, { type: 'answer', sdp: 'x' })), VideoErrors.noSuchViewer, 'another session cannot answer it');
  t.equal(await fault(() => video.stop(eve, offer.viewer)), VideoErrors.noSuchViewer, 'nor stop it');
  t.same(media.started, [], 'nothing reached Janus from the other session');
  await video.answer(ann, offer.viewer, { type: 'answer', sdp: 'answer sdp' });
  t.same(media.started, [{ handle: 1, sdp: 'answer sdp' }], 'the owner\'s answer starts the media');
  t.equal(await fault(video.answer(ann, offer.viewer, { type: 'answer', sdp: 'again' })), VideoErrors.noSuchViewer, 'one answer per viewer');

  // Limits: 2 per session, 3 per machine, 4 in all.
  await video.watch(ann, 'claw-1');
  t.equal(await fault(video.watch(ann, 'claw-1')), VideoErrors.tooManyViewers, 'per session');
  await video.watch(eve, 'claw-1');
  t.equal(await fault(video.watch({ session: 3, role: 'spectator' }, 'claw-1')), VideoErrors.tooManyViewers, 'per machine');
  t.same(video.stats(), [{ machine: 'claw-1', mountpoint: true, viewers: 3, port: 30000 }]);

  // A leaving session's handles are destroyed; a viewer Janus hangs up is gone too.
  video.sessionLeft(1);
  t.same(media.detached.sort(), [1, 2], 'both of ann\'s handles detached');
  t.equal(video.viewerCount, 1);
  media.handles.get(3)!({ janus: 'hangup', reason: 'DTLS alert' });
  t.equal(video.viewerCount, 0, 'a hung-up viewer is dropped');
  t.same(media.detached.sort(), [1, 2, 3]);

  // Janus restarts: viewers are gone, the mountpoint is created again on the same port.
  await video.watch(eve, 'claw-1');
  media.restart();
  t.equal(video.viewerCount, 0, 'viewers end with the media server');
  await new Promise((r) => setTimeout(r, 10));
  t.equal(media.admin.filter((a) => a.request === 'create').length, 2, 'the mountpoint is created again');
  t.match(media.admin.at(-1), { request: 'create', id: 30000 });

  // The node leaves: its mountpoint goes; its port stays its own.
  video.sessionLeft(101);
  await new Promise((r) => setTimeout(r, 10));
  t.match(media.admin.at(-1), { request: 'destroy', id: 30000, secret: 'admin' });
  t.same(video.stats(), [{ machine: 'claw-1', mountpoint: false, viewers: 0, port: 30000 }]);
  t.equal((await video.source('claw-2', 200)).port, 30002, 'another machine gets another port');
  t.equal((await video.source('claw-1', 102)).port, 30000, 'the machine back gets its old port');
});

t.test('service: an unanswered viewer is dropped after answerTimeoutSeconds', async (t) => {
  const media = new FakeMedia();
  const video = new VideoService({ ...section, answerTimeoutSeconds: 0.05 }, media, silentLogger());
  await video.source('claw-1', 100);
  await video.watch({ session: 1, role: 'spectator' }, 'claw-1');
  await new Promise((r) => setTimeout(r, 120));
  t.equal(video.viewerCount, 0);
  t.same(media.detached, [1], 'its handle destroyed');
});

/** A gate the fake's requests wait at, and its opener. */
function gate(media: FakeMedia): () => void {
  let open!: () => void;
  media.gate = new Promise<void>((r) => { open = r; });
  return () => { media.gate = undefined; open(); };
}
const settle = () => new Promise((r) => setTimeout(r, 10));

t.test('service: a session that leaves while Janus attaches its viewer leaves no handle behind', async (t) => {
  const media = new FakeMedia();
  const video = new VideoService(section, media, silentLogger());
  await video.source('claw-1', 100);
  const open = gate(media);
  const watching = video.watch({ session: 1, role: 'spectator' }, 'claw-1');
  await settle();
  video.sessionLeft(1);
  open();
  t.equal(await fault(watching), VideoErrors.noSuchViewer, 'the watch fails');
  await settle();
  t.same(media.detached, [1], 'the handle attached after the session left is destroyed');
  t.equal(media.handles.size, 0, 'no handle left on the media server');
  t.equal(video.viewerCount, 0);
  // A viewer dropped after its handle came is detached once, not again by watch().
  const open2 = gate(media);
  const w2 = video.watch({ session: 2, role: 'spectator' }, 'claw-1');
  open2();
  await w2;
  video.sessionLeft(2);
  t.same(media.detached, [1, 2], 'each handle detached exactly once');
});

t.test('service: a restarted service gives each camera back the port it sends to', async (t) => {
  const media = new FakeMedia();
  const video = new VideoService(section, media, silentLogger());
  // claw-2 asks first, but its camera sends to 30004 from the last run: it keeps it.
  t.equal((await video.source('claw-2', 200, 30004)).port, 30004, 'the preferred port');
  t.equal((await video.source('claw-1', 100, 30000)).port, 30000, 'another machine keeps its own');
  t.equal((await video.source('claw-3', 300, 30004)).port, 30002, 'a port another machine has is not given twice');
  t.equal((await video.source('claw-4', 400, 30003)).port, 30006, 'an odd port is not taken');
  t.equal((await video.source('claw-5', 500, 40000)).port, 30008, 'nor one outside the range');
  t.equal((await video.source('claw-2', 201, 30008)).port, 30004, 'a machine the service knows keeps the port it has');
});

t.test('service: a machine whose port was given away does not destroy the new owner\'s mountpoint', async (t) => {
  const media = new FakeMedia();
  const one = { ...section, rtp: { ...section.rtp, portMin: 30000, portMax: 30000 } };
  const video = new VideoService(one, media, silentLogger());
  media.connected = false;
  await video.source('claw-1', 100);
  const open = gate(media);
  media.restart(); // claw-1's mountpoint is being created (Janus slow)…
  video.sessionLeft(100); // …its node leaves: its removal waits behind the creation…
  const two = video.source('claw-2', 200); // …and claw-2 takes the only port.
  await settle();
  open();
  t.equal((await two).port, 30000);
  await settle();
  const last = media.admin.at(-1)!;
  t.match(last, { request: 'create', name: 'claw-2', id: 30000 }, 'claw-2\'s mountpoint is the last word on port 30000');
  t.same(video.stats(), [{ machine: 'claw-2', mountpoint: true, viewers: 0, port: 30000 }]);
});

t.test('service: after the backend reconnects, a node that left meanwhile loses its mountpoint', async (t) => {
  const media = new FakeMedia();
  const video = new VideoService(section, media, silentLogger());
  await video.source('claw-1', 100);
  await video.source('claw-2', 200);
  await video.watch({ session: 1, role: 'spectator' }, 'claw-2');
  video.sessionsPresent(new Set([1, 200]));
  await settle();
  t.same(media.admin.filter((a) => a.request === 'destroy').map((a) => a.id), [30000], 'claw-1\'s mountpoint destroyed');
  t.same(video.stats().map((s) => [s.machine, s.mountpoint, s.viewers]), [['claw-1', false, 0], ['claw-2', true, 1]], 'the present node and viewer stay');
});

// JanusClient against a stand-in for Janus's WebSocket API: a real Janus cannot be made to stop
// answering while its socket stays open, nor to time a session out on demand.
t.test('Janus client: a Janus that stops answering, or times our session out, is connected to again', async (t) => {
  const { WebSocketServer } = await import('ws');
  const { JanusClient } = await import('../src/video/janus-client.js');
  let silent = false;
  let creates = 0;
  const sockets: import('ws').WebSocket[] = [];
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'janus-protocol' });
  await new Promise((r) => server.once('listening', r));
  server.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { janus: string; transaction: string };
      if (silent) return;
      if (m.janus === 'create') { creates++; ws.send(JSON.stringify({ janus: 'success', transaction: m.transaction, data: { id: 1000 + creates } })); }
      if (m.janus === 'attach') ws.send(JSON.stringify({ janus: 'success', transaction: m.transaction, data: { id: 7 } }));
      if (m.janus === 'keepalive') ws.send(JSON.stringify({ janus: 'ack', transaction: m.transaction }));
    });
  });
  const port = (server.address() as { port: number }).port;
  const events: string[] = [];
  const client = new JanusClient({
    url: `ws://127.0.0.1:${port}`, requestTimeoutMs: 1000, keepaliveMs: 100, backoff: { initialMs: 20, maxMs: 50 }, log: () => undefined,
  });
  client.onConnect(() => events.push('connect'));
  client.onDisconnect(() => events.push('disconnect'));
  t.teardown(async () => { await client.stop(); for (const s of sockets) s.terminate(); await new Promise((r) => server.close(r)); });
  client.start();
  // Generous: a keepalive must go unanswered for requestTimeoutMs before the client gives up.
  const until = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 15_000;
    while (!ok() && Date.now() < end) await settle();
    t.ok(ok(), what);
  };
  await until('connected', () => client.connected);
  // Five keepalive periods and more than the request timeout: each ack must have been taken as the answer.
  await new Promise((r) => setTimeout(r, 1500));
  t.same(events, ['connect'], 'keepalives answered with ack keep the connection (no reconnect)');

  silent = true;
  await until('a silent Janus counts as gone', () => events.includes('disconnect'));
  silent = false;
  await until('and is connected to again', () => client.connected && creates === 2);

  sockets.at(-1)!.send(JSON.stringify({ janus: 'timeout', session_id: 1002 }));
  await until('a timed-out session is replaced by a new one', () => client.connected && creates === 3);
  t.same(events, ['connect', 'disconnect', 'connect', 'disconnect', 'connect']);
});
