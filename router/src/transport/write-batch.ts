// Write batching: every message a socket gets within one turn of the event
// loop leaves in one write. A callee that gets INVOCATIONs from 16 callers
// parsed out of the same TCP read, or a subscriber of several matching
// subscriptions, then costs one syscall instead of one per message. The
// socket is corked on the first write of a tick and uncorked on nextTick,
// which runs before any I/O, so no message waits for more than the current
// synchronous work.
import type { Duplex } from 'node:stream';

export class WriteBatch {
  private corked = false;

  constructor(private readonly socket: Duplex) {}

  /** Call before writing; the writes of this tick go out together. */
  hold(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(release, this);
  }

  /** @internal */
  flush(): void {
    this.corked = false;
    this.socket.uncork();
  }
}

function release(batch: WriteBatch): void {
  batch.flush();
}
