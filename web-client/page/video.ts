// The live video of one machine over WebRTC (docs/web-client.md "Live
// video"). Signalling goes over the page's WAMP session (claw.video.watch →
// Janus's offer; our answer → claw.video.answer), never to Janus itself;
// only the media comes from Janus. The viewer is bound to the WAMP session
// that asked, so a new session (login, reconnect) watches anew. Frames are
// counted as they are shown (requestVideoFrameCallback); no frame for a
// while, or a failed connection, is "video lost — reconnecting" and a new
// viewer after a short, growing delay. A machine without video (no video
// service, no camera) leaves the drawn view alone and is asked again later.
import type { Session } from 'autobahn';
import { VideoErrors, VideoProcedures, WatchOffer } from '@clawgate/protocol';
import { errorUri, h, setText } from './dom.js';

/** `off`: no video (drawn view); `connecting`: first frames awaited; `playing`; `lost`: reconnecting. */
export type LiveState = 'off' | 'connecting' | 'playing' | 'lost';

/** A viewer that showed no frame for this long is lost. */
const STALL_MS = 2500;
/** The first frame must come within this. */
const FIRST_FRAME_MS = 6000;
/** Longest wait for our ICE candidates before answering (loopback and LAN take a few ms; TURN a few hundred). */
const GATHER_MS = 2000;
const RETRY = { initialMs: 500, maxMs: 5000 };
/** Asked again after "no video of this machine now" (3 s, doubling to 30 s: many pages may be looking at a machine without a camera) / "no video service". */
const UNAVAILABLE_RETRY = { initialMs: 3000, maxMs: 30_000 };
const NO_SERVICE_RETRY_MS = 30_000;

interface Current {
  session: Session;
  machine: string;
  pc: RTCPeerConnection | undefined;
  viewer: string | undefined;
  startedAt: number;
  lastFrameAt: number;
  frames: number;
  closed: boolean;
}

export class LiveVideo {
  readonly element: HTMLElement;
  private readonly video: HTMLVideoElement;
  private readonly note: HTMLElement;
  private readonly delay: HTMLElement;
  private current: Current | undefined;
  private wanted: { session: Session | undefined; machine: string | undefined } = { session: undefined, machine: undefined };
  private stateNow: LiveState = 'off';
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryMs = RETRY.initialMs;
  private unavailableMs = UNAVAILABLE_RETRY.initialMs;
  /** This machine played in this session: a missing video service is a backend restarting, back soon. */
  private hadVideo = false;
  private lastStats: { jb: number; emitted: number } | undefined;

  constructor(private readonly onChange: (s: LiveState) => void, label: string) {
    this.video = h('video', { autoplay: true, muted: true, playsinline: true, 'aria-label': label }) as HTMLVideoElement;
    this.video.muted = true;
    this.note = h('p', { class: 'live-note', role: 'status' });
    this.delay = h('p', { class: 'live-delay', 'aria-live': 'off' });
    this.element = h('div', { class: 'video live', hidden: true, 'data-video': 'off', 'data-frames': '0' }, this.video, this.note, this.delay);
    // For the page's lifetime (one LiveVideo per page): the watchdog and the delay sampling.
    setInterval(() => this.check(), 500);
    setInterval(() => void this.sampleDelay(), 1000);
  }

  get state(): LiveState { return this.stateNow; }

  /** What should play: this session's view of this machine (undefined: nothing). Cheap when nothing changed. */
  show(session: Session | undefined, machine: string | undefined): void {
    if (session === this.wanted.session && machine === this.wanted.machine) return;
    this.wanted = { session, machine };
    this.retryMs = RETRY.initialMs;
    this.unavailableMs = UNAVAILABLE_RETRY.initialMs;
    this.hadVideo = false;
    this.teardown();
    clearTimeout(this.retryTimer);
    this.set('off');
    if (session !== undefined && machine !== undefined) void this.start();
  }

  private set(s: LiveState): void {
    if (s === this.stateNow) return;
    this.stateNow = s;
    this.element.dataset.video = s;
    this.element.hidden = s === 'off';
    setText(this.note, s === 'lost' ? 'Video lost — reconnecting…' : s === 'connecting' ? 'Connecting the video…' : '');
    this.note.hidden = s === 'playing' || s === 'off';
    if (s !== 'playing') setText(this.delay, '');
    this.onChange(s);
  }

  private async start(): Promise<void> {
    const { session, machine } = this.wanted;
    if (session === undefined || machine === undefined || !session.isOpen) return;
    const cur: Current = { session, machine, pc: undefined, viewer: undefined, startedAt: Date.now(), lastFrameAt: 0, frames: 0, closed: false };
    this.current = cur;
    if (this.stateNow !== 'lost') this.set('connecting');
    let offer: WatchOffer;
    try {
      const parsed = WatchOffer.safeParse(await session.call<unknown>(VideoProcedures.watch, [{ machine }]));
      if (!parsed.success) throw new Error('malformed offer');
      offer = parsed.data;
    } catch (e) {
      if (cur.closed) return;
      this.current = undefined;
      const uri = errorUri(e);
      // No video for this machine now: the drawn view, and a look again later.
      const noService = uri === 'wamp.error.no_such_procedure' || uri === 'wamp.error.not_authorized';
      let wait: number;
      if (noService && !this.hadVideo) wait = NO_SERVICE_RETRY_MS;
      // Lost a moment ago (Janus or the backend restarting, the camera's node reconnecting): back soon, so ask again soon.
      else if ((uri === VideoErrors.unavailable || noService) && this.stateNow !== 'lost') { wait = this.unavailableMs; this.unavailableMs = Math.min(UNAVAILABLE_RETRY.maxMs, this.unavailableMs * 2); }
      else wait = this.nextRetry();
      if (this.stateNow !== 'lost' || noService) this.set('off');
      this.later(wait);
      return;
    }
    if (cur.closed) { void session.call(VideoProcedures.stop, [{ viewer: offer.viewer }]).catch(() => undefined); return; }
    cur.viewer = offer.viewer;
    try {
      const pc = new RTCPeerConnection({ iceServers: offer.iceServers });
      cur.pc = pc;
      pc.ontrack = (ev) => {
        if (cur.closed) return;
        this.video.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
        this.countFrames(cur);
      };
      await pc.setRemoteDescription(offer.offer);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc, GATHER_MS);
      if (cur.closed) return;
      await session.call(VideoProcedures.answer, [{ viewer: offer.viewer, answer: { type: 'answer', sdp: pc.localDescription!.sdp } }]);
    } catch {
      if (!cur.closed) this.lose();
    }
  }

  private countFrames(cur: Current): void {
    const v = this.video;
    const onFrame = (): void => {
      if (cur.closed || this.current !== cur) return;
      cur.frames++;
      cur.lastFrameAt = Date.now();
      this.element.dataset.frames = String(Number(this.element.dataset.frames ?? '0') + 1);
      if (this.stateNow !== 'playing') { this.retryMs = RETRY.initialMs; this.unavailableMs = UNAVAILABLE_RETRY.initialMs; this.hadVideo = true; this.set('playing'); }
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
    void v.play().catch(() => undefined);
  }

  private check(): void {
    const cur = this.current;
    if (cur === undefined || cur.closed) return;
    const now = Date.now();
    if (document.hidden) {
      // A hidden page shows no frames (requestVideoFrameCallback waits for rendering): not a stall.
      // Counted from when it is shown again; else every background tab would drop and re-watch
      // its viewer every few seconds.
      cur.startedAt = now;
      cur.lastFrameAt = now;
      return;
    }
    const pcState = cur.pc?.connectionState;
    const stalled = cur.frames > 0 ? now - cur.lastFrameAt > STALL_MS : now - cur.startedAt > FIRST_FRAME_MS;
    if (pcState === 'failed' || pcState === 'closed' || (cur.viewer !== undefined && stalled) || !cur.session.isOpen) this.lose();
  }

  /** The viewer is gone: say so, and watch anew shortly. */
  private lose(): void {
    this.teardown();
    this.set('lost');
    this.later(this.nextRetry());
  }

  private nextRetry(): number {
    const ms = this.retryMs;
    this.retryMs = Math.min(RETRY.maxMs, this.retryMs * 2);
    return ms;
  }

  private later(ms: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.start(), ms);
  }

  private teardown(): void {
    const cur = this.current;
    this.current = undefined;
    this.lastStats = undefined;
    if (cur === undefined) return;
    cur.closed = true;
    cur.pc?.close();
    if (cur.viewer !== undefined && cur.session.isOpen) void cur.session.call(VideoProcedures.stop, [{ viewer: cur.viewer }]).catch(() => undefined);
  }

  /**
   * The delay the receiver adds and sees (WebRTC statistics): the jitter
   * buffer's average over the last second, plus half the round trip to Janus.
   * The camera's encode and the network before Janus are not in it (the
   * benchmark measures glass to glass: docs/benchmarks.md).
   */
  private async sampleDelay(): Promise<void> {
    const pc = this.current?.pc;
    if (pc === undefined || this.stateNow !== 'playing') return;
    let jb = 0, emitted = 0, rtt: number | undefined;
    const stats = await pc.getStats();
    stats.forEach((r: Record<string, unknown>) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') { jb = Number(r.jitterBufferDelay ?? 0); emitted = Number(r.jitterBufferEmittedCount ?? 0); }
      if (r.type === 'candidate-pair' && r.nominated === true && typeof r.currentRoundTripTime === 'number') rtt = r.currentRoundTripTime;
    });
    const last = this.lastStats;
    this.lastStats = { jb, emitted };
    if (last === undefined || emitted <= last.emitted) return;
    const ms = Math.round(((jb - last.jb) / (emitted - last.emitted) + (rtt ?? 0) / 2) * 1000);
    this.element.dataset.delay = String(ms);
    setText(this.delay, `delay ≈ ${ms} ms`);
  }
}

function gathered(pc: RTCPeerConnection, ms: number): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const t = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
  });
}
