// The camera pipeline as a child process, supervised: started once the video
// service said where to send, restarted with growing delays when it ends or
// stalls, its state, frames/s and restarts reported. Separate from the safety
// layer by construction: the pipeline is another process, and what runs here
// on the node's thread is a few timers and, for the synthetic camera, one
// small frame drawn and written to a pipe per frame (frame-render.ts; skipped
// while the pipe is full, never queued). Nothing here is awaited by the claw
// logic, and nothing here throws into it.
import { spawn, type ChildProcess } from 'node:child_process';
import type { CameraState, CameraStatus, VideoSource } from '@clawgate/protocol';
import { fillCommand, syntheticArgs, type CameraConfig } from './camera-config.js';
import { newFrame, renderFrame, type Scene } from './frame-render.js';
import { nextState, restartDelay } from './camera-state.js';

export interface CameraSupervisorOptions {
  /** The simulated cabinet's scene, for the synthetic camera. */
  scene?: () => Scene;
  onStatus: (s: CameraStatus) => void;
  log: (level: 'info' | 'warn' | 'debug', msg: string, extra?: Record<string, unknown>) => void;
}

/** ffmpeg's progress line (`frame=  123 fps= 30 …`), printed with -stats. */
const FRAME = /frame=\s*(\d+)/g;
const BITRATE = /bitrate=\s*([\d.]+)kbits\/s/;

export class CameraSupervisor {
  private target: VideoSource | undefined;
  private child: ChildProcess | undefined;
  private state: CameraState = 'waiting';
  private since = Date.now();
  private restarts = 0;
  private quickFails = 0;
  private lastError: string | undefined;
  private startedAt = 0;
  private frames = 0;
  private lastFrameAt = 0;
  private reported = { frames: 0, at: 0 };
  private fps: number | undefined;
  private bitrate: number | undefined;
  private retry: NodeJS.Timeout | undefined;
  private feed: NodeJS.Timeout | undefined;
  private report: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly config: CameraConfig, private readonly o: CameraSupervisorOptions) {
    this.report = setInterval(() => this.tick(), this.config.reportSeconds * 1000);
    this.report.unref();
  }

  status(): CameraStatus {
    const s: CameraStatus = { state: this.state, since: this.since, restarts: this.restarts };
    if (this.fps !== undefined && this.state === 'running') s.fps = this.fps;
    if (this.bitrate !== undefined && this.state === 'running') s.bitrate = this.bitrate;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    if (this.target !== undefined) s.port = this.target.port;
    return s;
  }

  /** Where to send (the video service's answer); a different place restarts the pipeline. */
  setTarget(t: VideoSource): void {
    if (this.stopped) return;
    const same = this.target !== undefined && this.target.host === t.host && this.target.port === t.port && this.target.payloadType === t.payloadType && this.target.codec === t.codec;
    this.target = t;
    if (same && (this.child !== undefined || this.retry !== undefined)) return;
    this.kill();
    clearTimeout(this.retry);
    this.retry = undefined;
    this.launch();
  }

  /** The running pipeline's process id (tests, diagnostics). */
  get pid(): number | undefined { return this.child?.pid; }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.report);
    const c = this.child;
    this.kill();
    if (c && c.exitCode === null && c.signalCode === null) await new Promise<void>((r) => { c.once('exit', () => r()); setTimeout(r, 2000).unref(); });
    this.set('off');
  }

  private set(state: CameraState): void {
    const s = nextState(this.state, state);
    if (s === this.state) return;
    this.state = s;
    this.since = Date.now();
    this.o.onStatus(this.status());
  }

  private launch(): void {
    const t = this.target;
    if (t === undefined || this.stopped) return;
    this.set(this.restarts === 0 && this.state === 'waiting' ? 'starting' : this.state === 'failed' ? 'failed' : 'restarting');
    let child: ChildProcess;
    try {
      child = this.config.source === 'synthetic'
        ? spawn(this.config.ffmpeg, syntheticArgs(this.config, t), { stdio: ['pipe', 'ignore', 'pipe'] })
        // Its own process group: the whole pipeline (rpicam-vid | ffmpeg) is stopped together.
        : spawn('/bin/sh', ['-c', fillCommand(this.config.command!, t)], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    } catch (e) {
      this.ended(`cannot start: ${(e as Error).message}`);
      return;
    }
    this.child = child;
    this.startedAt = Date.now();
    this.lastFrameAt = Date.now();
    const startFrames = this.frames;
    child.on('error', (e) => { if (this.child === child) { this.child = undefined; this.ended(e.message); } });
    child.stdin?.on('error', () => undefined); // EPIPE when it dies: its exit says why
    child.stderr!.setEncoding('utf8');
    let carry = '';
    child.stderr!.on('data', (d: string) => {
      const text = carry + d;
      const lines = text.split(/[\r\n]/);
      carry = lines.pop()!.slice(-512);
      for (const line of lines) this.line(line, startFrames);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.stopFeed();
      this.ended(signal ? `ended by ${signal}` : `exited with code ${code}`);
    });
    if (this.config.source === 'synthetic') this.startFeed(child);
    this.o.log('info', 'camera pipeline started', { port: t.port, pid: child.pid });
  }

  /** ffmpeg's progress: frames sent so far by this run of the pipeline. */
  private line(line: string, base: number): void {
    if (line.trim() === '') return;
    let frame: number | undefined;
    for (const m of line.matchAll(FRAME)) frame = Number(m[1]);
    if (frame !== undefined) {
      const total = base + frame;
      if (total > this.frames) { this.frames = total; this.lastFrameAt = Date.now(); }
      const kbps = BITRATE.exec(line)?.[1];
      if (kbps !== undefined) this.bitrate = Math.round(Number(kbps) * 1000);
      if (frame > 0 && this.state !== 'running') { this.lastError = undefined; this.set('running'); }
      return;
    }
    this.lastError = line.trim().slice(0, 200);
  }

  private ended(why: string): void {
    if (this.stopped) return;
    const ranMs = Date.now() - this.startedAt;
    this.quickFails = ranMs < 5000 ? this.quickFails + 1 : 0;
    this.lastError = this.lastError !== undefined ? `${why}: ${this.lastError}`.slice(0, 200) : why;
    this.restarts++;
    const delay = restartDelay(this.config.restart, this.quickFails);
    this.o.log('warn', 'camera pipeline ended; restarting', { why: this.lastError, inMs: delay, restarts: this.restarts });
    const before = this.state;
    this.set(this.quickFails >= this.config.failAfter ? 'failed' : 'restarting');
    if (this.state === before) this.o.onStatus(this.status()); // the same state, but one restart more

    clearTimeout(this.retry);
    this.retry = setTimeout(() => { this.retry = undefined; this.launch(); }, delay);
  }

  private kill(): void {
    const c = this.child;
    this.child = undefined;
    this.stopFeed();
    if (c === undefined || c.pid === undefined) return;
    try {
      if (this.config.source === 'command') process.kill(-c.pid, 'SIGKILL'); else c.kill('SIGKILL');
    } catch { /* gone */ }
  }

  /** The synthetic camera: one frame per 1/fps, drawn small, skipped while ffmpeg has not read the last ones. */
  private startFeed(child: ChildProcess): void {
    // Three frames in turn: the pipe may still hold the last one written while the next is drawn
    // (at most one, as nothing is written while it needs draining). No allocation per frame.
    const frames = [0, 1, 2].map(() => newFrame(this.config.width / 4, this.config.height / 4));
    let n = 0;
    const scene = this.o.scene ?? (() => ({ claw: undefined, prizes: [] }));
    this.feed = setInterval(() => {
      const stdin = child.stdin;
      if (stdin === null || stdin.destroyed || stdin.writableNeedDrain) return;
      const frame = frames[n++ % frames.length]!;
      renderFrame(frame, scene(), Date.now());
      stdin.write(frame.data);
    }, 1000 / this.config.fps);
  }

  private stopFeed(): void {
    clearInterval(this.feed);
    this.feed = undefined;
  }

  private tick(): void {
    const now = Date.now();
    if (this.reported.at > 0) this.fps = Math.round(((this.frames - this.reported.frames) * 1000 / (now - this.reported.at)) * 10) / 10;
    this.reported = { frames: this.frames, at: now };
    // A pipeline that reports frames but stopped sending them is restarted.
    if (this.child !== undefined && this.state === 'running' && now - this.lastFrameAt > this.config.stallSeconds * 1000) {
      this.lastError = `no frame for ${this.config.stallSeconds} s`;
      this.kill();
      this.ended('stalled');
      return;
    }
    if (this.state === 'running') this.o.onStatus(this.status());
  }
}
