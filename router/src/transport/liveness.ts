// Connection liveness (Crossbar's auto_ping_interval / auto_ping_timeout /
// auto_ping_size): a client whose network is gone leaves a half-open TCP
// connection that the OS may keep for hours, and its session (presence,
// testaments, the backend's grace periods) with it. So the router pings a
// connection it has not heard from for `interval` ms (a WebSocket ping, a
// RawSocket PING frame) and drops it when nothing at all has come back
// `timeout` ms later: the session then leaves as a lost connection does.
//
// Cost at idle: no timer per connection. One sweep per listener walks its
// connections every few seconds; a connection is three fields and a Set
// entry, and inbound traffic only sets a flag (no clock read per message).
// Anything received counts as an answer: a client busy sending is alive.
import type { LivenessConfig } from '../limits/limits-config.js';

/** A connection as the sweep sees it (WebSocketTransport, RawSocketTransport). */
export interface Pingable {
  /** Set by the transport whenever anything arrives; the sweep turns it into a time. */
  heard: boolean;
  readonly liveness: LivenessConfig;
  /** Sends a ping (best effort: a closing connection may ignore it). */
  ping(): void;
  /** Nothing came back in time: end the connection as a dropped one (no close handshake). */
  dead(): void;
}

export type LivenessAction = 'alive' | 'wait' | 'ping' | 'drop';

/** Per connection: when it was last heard from, and when the outstanding ping went out (0: none). */
interface Watch { lastHeard: number; pingSentAt: number }

/** What to do with a connection at `now`. Pure. */
export function livenessAction(now: number, heard: boolean, w: Watch, cfg: Pick<LivenessConfig, 'intervalMs' | 'timeoutMs'>): LivenessAction {
  if (heard) return 'alive';
  if (w.pingSentAt !== 0) return now - w.pingSentAt >= cfg.timeoutMs ? 'drop' : 'wait';
  return now - w.lastHeard >= cfg.intervalMs ? 'ping' : 'wait';
}

/**
 * How often a listener's sweep runs: a quarter of its shortest interval or
 * timeout (at least 25 ms), so a dead connection is dropped at most
 * interval + timeout + half that again after it was last heard.
 */
export function sweepStepMs(configs: readonly LivenessConfig[]): number {
  let min = Infinity;
  for (const c of configs) min = Math.min(min, c.intervalMs, c.timeoutMs);
  return Math.max(25, Math.floor(min / 4));
}

/** One listener's connections under liveness checks, and the one timer that checks them. */
export class LivenessSweep {
  private readonly watched = new Map<Pingable, Watch>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stepMs: number, private readonly onDead: (p: Pingable) => void = () => {}) {}

  add(p: Pingable): void {
    this.watched.set(p, { lastHeard: Date.now(), pingSentAt: 0 });
    // The timer runs only while there is something to watch: an idle listener costs nothing.
    if (this.timer === undefined) this.timer = setInterval(() => this.sweep(Date.now()), this.stepMs).unref();
  }

  remove(p: Pingable): void {
    this.watched.delete(p);
    if (this.watched.size === 0 && this.timer !== undefined) { clearInterval(this.timer); this.timer = undefined; }
  }

  get size(): number {
    return this.watched.size;
  }

  sweep(now: number): void {
    for (const [p, w] of this.watched) {
      const action = livenessAction(now, p.heard, w, p.liveness);
      if (action === 'alive') {
        p.heard = false;
        w.lastHeard = now;
        w.pingSentAt = 0;
      } else if (action === 'ping') {
        w.pingSentAt = now;
        p.ping();
      } else if (action === 'drop') {
        this.remove(p);
        this.onDead(p);
        p.dead();
      }
    }
  }

  stop(): void {
    this.watched.clear();
    if (this.timer !== undefined) { clearInterval(this.timer); this.timer = undefined; }
  }
}
