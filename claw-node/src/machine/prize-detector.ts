// Watches the prize input for a delivered prize: an edge to asserted that
// stays asserted for the debounce time. A sensor already asserted when the
// watch starts (stuck, or a hand in the chute) does not count.
import type { Clock, TimerHandle } from '../clock.js';
import type { GpioDriver, Unwatch } from '../gpio/driver.js';

export class PrizeDetector {
  private unwatch: Unwatch | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly driver: GpioDriver,
    private readonly clock: Clock,
    private readonly debounceMs: number,
  ) {}

  start(onPrize: () => void): void {
    this.stop();
    this.unwatch = this.driver.watch('prize', (asserted) => {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      if (!asserted) return;
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        if (this.driver.read('prize')) { this.stop(); onPrize(); }
      }, this.debounceMs);
    });
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}
