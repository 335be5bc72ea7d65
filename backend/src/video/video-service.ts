// The video service: one Janus streaming mountpoint per machine whose node
// asked where to send its camera, and the viewers' WebRTC signalling relayed
// between WAMP callers and Janus. Every viewer is bound to the WAMP session
// that called claw.video.watch: its id means nothing in any other session,
// and its Janus handle is destroyed when that session leaves, when it stops,
// when it does not answer in time, or when Janus hangs it up. Nothing here
// knows about WAMP: bind-video.ts passes the router-disclosed caller in.
import { randomBytes } from 'node:crypto';
import { VideoErrors, type VideoSource, type VideoStats, type WatchOffer } from '@clawgate/protocol';
import { VideoFault } from './video-fault.js';
import type { Logger } from '../logger.js';
import type { VideoConfig } from './config.js';
import type { JanusHandleEvent, MediaServer } from './janus-client.js';
import { refusal } from './limits.js';
import { allocatePort, mountpointId } from './ports.js';

interface Mountpoint {
  port: number;
  lastUsed: number;
  /** The node session that asked for it last; it goes when that session leaves. */
  nodeSession: number | undefined;
  /** It exists on Janus now. */
  created: boolean;
}

interface Viewer {
  id: string;
  session: number;
  machine: string;
  handle: number | undefined;
  started: boolean;
  timer: NodeJS.Timeout | undefined;
  gone: boolean;
}

export interface Caller { session: number; role: string | undefined }

export class VideoService {
  private readonly machines = new Map<string, Mountpoint>();
  private readonly viewers = new Map<string, Viewer>();
  private readonly bySession = new Map<number, Set<string>>();
  private readonly perMachine = new Map<string, number>();
  /** One operation at a time per machine's mountpoint (create, destroy). */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly config: VideoConfig, private readonly media: MediaServer, private readonly log: Logger, private readonly now: () => number = Date.now) {
    media.onConnect(() => {
      // A fresh Janus (or a fresh session on it): re-create what the nodes asked for.
      for (const [machine, mp] of this.machines) {
        mp.created = false;
        if (mp.nodeSession !== undefined) void this.serial(machine, () => this.create(machine, mp)).catch(() => undefined);
      }
    });
    media.onDisconnect(() => {
      for (const mp of this.machines.values()) mp.created = false;
      for (const v of [...this.viewers.values()]) this.drop(v, 'media server gone');
    });
  }

  // ---- cameras -----------------------------------------------------------------

  /**
   * claw.video.source: the calling node's machine gets (or keeps) its mountpoint; answers where
   * to send. `preferred`: where its camera sends now (kept across a restart of this service).
   */
  async source(machine: string, nodeSession: number, preferred?: number): Promise<VideoSource> {
    const src = (port: number): VideoSource => ({ machine, host: this.config.rtp.host, port, payloadType: this.config.rtp.payloadType, codec: this.config.rtp.codec });
    return this.serial(machine, async () => {
      let mp = this.machines.get(machine);
      if (mp === undefined) {
        const got = allocatePort({ min: this.config.rtp.portMin, max: this.config.rtp.portMax }, this.machines, machine, (m) => this.machines.get(m)?.nodeSession !== undefined, preferred);
        if (got === undefined) throw new VideoFault(VideoErrors.unavailable, 'no free RTP port for another camera (video.rtp.portMin … portMax)');
        if (got.evict !== undefined) this.machines.delete(got.evict);
        mp = { port: got.port, lastUsed: this.now(), nodeSession, created: false };
        this.machines.set(machine, mp);
      }
      mp.nodeSession = nodeSession;
      mp.lastUsed = this.now();
      // The port is the answer even while Janus is away: the camera sends there, and the
      // mountpoint is created on it as soon as Janus is back.
      if (!mp.created && this.media.connected) await this.create(machine, mp).catch(() => undefined);
      return src(mp.port);
    });
  }

  private async create(machine: string, mp: Mountpoint): Promise<void> {
    const id = mountpointId(mp.port);
    const body = {
      request: 'create', admin_key: this.config.janus.adminKey, type: 'rtp', id, name: machine, description: machine,
      is_private: true, secret: this.config.janus.mountpointSecret, permanent: false,
      media: [{
        type: 'video', mid: 'v', port: mp.port, pt: this.config.rtp.payloadType, codec: this.config.rtp.codec,
        // H.264: constrained baseline, what every browser decodes (a Pi's encoder with --profile baseline).
        ...(this.config.rtp.codec === 'h264' ? { fmtp: 'profile-level-id=42e01f;packetization-mode=1' } : {}),
        ...(this.config.rtp.bind ? { iface: this.config.rtp.bind } : {}),
      }],
    };
    try {
      await this.media.adminRequest(body);
    } catch (e) {
      // One left on Janus by an earlier run of this service (same id, same secret): replaced.
      this.log.debug({ machine, err: (e as Error).message }, 'mountpoint create failed; replacing an old one');
      await this.media.adminRequest({ request: 'destroy', id, secret: this.config.janus.mountpointSecret, permanent: false }).catch(() => undefined);
      try {
        await this.media.adminRequest(body);
      } catch (e2) {
        this.log.warn({ machine, port: mp.port, err: (e2 as Error).message }, 'could not create the mountpoint');
        throw e2;
      }
    }
    mp.created = true;
    this.log.info({ machine, port: mp.port }, 'mountpoint created');
  }

  /** A WAMP session left: its viewers go, and the mountpoint of a node whose session it was. */
  sessionLeft(session: number): void {
    for (const id of [...(this.bySession.get(session) ?? [])]) {
      const v = this.viewers.get(id);
      if (v) this.drop(v, 'session left');
    }
    for (const [machine, mp] of this.machines) {
      if (mp.nodeSession !== session) continue;
      mp.nodeSession = undefined;
      mp.lastUsed = this.now();
      void this.serial(machine, async () => {
        // Asked again meanwhile, or its port given to another machine (whose mountpoint it is now).
        if (mp.nodeSession !== undefined || !mp.created || this.machines.get(machine) !== mp) return;
        mp.created = false;
        for (const v of [...this.viewers.values()]) if (v.machine === machine) this.drop(v, 'camera gone');
        await this.media.adminRequest({ request: 'destroy', id: mountpointId(mp.port), secret: this.config.janus.mountpointSecret, permanent: false }).catch(() => undefined);
        this.log.info({ machine }, 'mountpoint removed (its node left)');
      }).catch(() => undefined);
    }
  }

  /** After a reconnect to the router: viewers, and mountpoints of nodes, whose sessions are no longer on it go. */
  sessionsPresent(present: ReadonlySet<number>): void {
    const known = new Set(this.bySession.keys());
    for (const mp of this.machines.values()) if (mp.nodeSession !== undefined) known.add(mp.nodeSession);
    for (const session of known) if (!present.has(session)) this.sessionLeft(session);
  }

  // ---- viewers -----------------------------------------------------------------

  async watch(caller: Caller, machine: string): Promise<WatchOffer> {
    const mp = this.machines.get(machine);
    if (mp === undefined || !mp.created || !this.media.connected) throw new VideoFault(VideoErrors.unavailable, `no live video of ${machine} now`);
    const l = this.config.limits;
    const limits = { perSession: caller.role === 'operator' ? l.perOperatorSession : l.perSession, perMachine: l.perMachine, total: l.total };
    const over = refusal({ session: this.bySession.get(caller.session)?.size ?? 0, machine: this.perMachine.get(machine) ?? 0, total: this.viewers.size }, limits);
    if (over !== undefined) throw new VideoFault(VideoErrors.tooManyViewers, `too many viewers (${over} limit)`, { limit: over });

    // Counted from here on, before the first await: concurrent calls cannot pass the limits together.
    const v: Viewer = { id: randomBytes(12).toString('base64url'), session: caller.session, machine, handle: undefined, started: false, timer: undefined, gone: false };
    this.add(v);
    try {
      v.handle = await this.media.attach((e) => this.handleEvent(v, e));
      if (v.gone) throw new VideoFault(VideoErrors.noSuchViewer, 'the viewer went away');
      const r = await this.media.message(v.handle, { request: 'watch', id: mountpointId(mp.port) });
      if (v.gone) throw new VideoFault(VideoErrors.noSuchViewer, 'the viewer went away');
      if (r.jsep?.type !== 'offer' || typeof r.jsep.sdp !== 'string') throw new VideoFault(VideoErrors.unavailable, 'the media server made no offer');
      v.timer = setTimeout(() => this.drop(v, 'no answer'), this.config.answerTimeoutSeconds * 1000);
      v.timer.unref();
      return { viewer: v.id, machine, offer: { type: 'offer', sdp: r.jsep.sdp }, iceServers: this.config.iceServers };
    } catch (e) {
      // Gone while Janus attached it (its session left, say): drop() had no handle to destroy then.
      const orphan = v.gone ? v.handle : undefined;
      this.drop(v, 'watch failed');
      if (orphan !== undefined) void this.media.detach(orphan).catch(() => undefined);
      if (e instanceof VideoFault) throw e;
      throw new VideoFault(VideoErrors.unavailable, `no live video of ${machine} now`);
    }
  }

  async answer(caller: Caller, viewerId: string, answer: { type: 'answer'; sdp: string }): Promise<Record<string, never>> {
    const v = this.own(caller, viewerId);
    if (v.started) throw new VideoFault(VideoErrors.noSuchViewer, 'this viewer has answered already');
    v.started = true;
    clearTimeout(v.timer);
    try {
      await this.media.message(v.handle!, { request: 'start' }, answer);
    } catch (e) {
      this.drop(v, 'start failed');
      throw new VideoFault(VideoErrors.unavailable, `the media server refused the answer: ${(e as Error).message}`.slice(0, 200));
    }
    return {};
  }

  stop(caller: Caller, viewerId: string): Record<string, never> {
    this.drop(this.own(caller, viewerId), 'stopped');
    return {};
  }

  /** The caller's own viewer; anyone else's (or an unknown id) is no_such_viewer, indistinguishably. */
  private own(caller: Caller, viewerId: string): Viewer {
    const v = this.viewers.get(viewerId);
    if (v === undefined || v.session !== caller.session || v.handle === undefined) throw new VideoFault(VideoErrors.noSuchViewer, 'no such viewer in this session');
    return v;
  }

  private handleEvent(v: Viewer, e: JanusHandleEvent): void {
    if (e.janus === 'hangup' || e.janus === 'detached') this.drop(v, e.janus);
  }

  private add(v: Viewer): void {
    this.viewers.set(v.id, v);
    let s = this.bySession.get(v.session);
    if (s === undefined) { s = new Set(); this.bySession.set(v.session, s); }
    s.add(v.id);
    this.perMachine.set(v.machine, (this.perMachine.get(v.machine) ?? 0) + 1);
  }

  private drop(v: Viewer, why: string): void {
    if (v.gone) return;
    v.gone = true;
    clearTimeout(v.timer);
    this.viewers.delete(v.id);
    const s = this.bySession.get(v.session);
    s?.delete(v.id);
    if (s?.size === 0) this.bySession.delete(v.session);
    const n = (this.perMachine.get(v.machine) ?? 1) - 1;
    if (n > 0) this.perMachine.set(v.machine, n); else this.perMachine.delete(v.machine);
    // Cleared: a handle that arrives later (attach in flight) is watch()'s to destroy.
    const handle = v.handle;
    v.handle = undefined;
    if (handle !== undefined) void this.media.detach(handle).catch(() => undefined);
    this.log.debug({ machine: v.machine, session: v.session, why }, 'viewer gone');
  }

  // ---- operators -----------------------------------------------------------------

  stats(): VideoStats[] {
    return [...this.machines].map(([machine, mp]) => ({ machine, mountpoint: mp.created, viewers: this.perMachine.get(machine) ?? 0, port: mp.port }))
      .sort((a, b) => a.machine.localeCompare(b.machine));
  }

  get viewerCount(): number { return this.viewers.size; }

  close(): void {
    for (const v of [...this.viewers.values()]) this.drop(v, 'service stopping');
  }

  private serial<T>(machine: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(machine) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.chains.set(machine, settled);
    void settled.then(() => { if (this.chains.get(machine) === settled) this.chains.delete(machine); });
    return next;
  }
}
