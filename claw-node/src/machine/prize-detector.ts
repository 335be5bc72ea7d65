// Watches the prize input for a delivered prize: an edge to asserted that
// stays asserted for the debounce time. A sensor already asserted when the
// watch starts (stuck, or a hand in the chute) does not count.
// Where the driver passes the kernel's edge timestamps (gpio-cdev), a pulse
// also counts when both its edges reach us only after it ended (a stalled
// event loop, a batch of queued events): the timestamps say how long the
// sensor was asserted, whatever the delay in hearing about it.
import type { Clock, TimerHandle } from '../clock.js';
import type { GpioDriver, Unwatch } from '../gpio/driver.js';

export class PrizeDetector {
  private unwatch: Unwatch | undefined;
  private timer: TimerHandle | undefined;
  /** Kernel time (ns) of the edge to asserted that started the current pulse, when the driver gives one. */
  private assertedAtNs: bigint | undefined;

  constructor(
    private readonly driver: GpioDriver,
    private readonly clock: Clock,
    private readonly debounceMs: number,
  ) {}

  start(onPrize: () => void): void {
    this.stop();
    this.unwatch = this.driver.watch('prize', (asserted, timestampNs) => {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      if (!asserted) {
        const began = this.assertedAtNs;
        this.assertedAtNs = undefined;
        if (began !== undefined && timestampNs !== undefined && timestampNs - began >= BigInt(this.debounceMs) * 1_000_000n) {
          this.stop();
          onPrize();
        }
        return;
      }
      this.assertedAtNs = timestampNs;
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        if (this.driver.read('prize')) { this.stop(); onPrize(); }
      }, this.debounceMs);
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.assertedAtNs = undefined;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
