// Steering: which key means what, and the hold-to-repeat rule of the
// protocol (a held direction is re-sent at least every `repeatMs`, because the
// node releases any direction not refreshed within its hold timeout: a lost
// connection or a lost keyup must never leave the claw running).
import { Defaults, type Command, type Direction } from '@clawgate/protocol';

export type ControlAction = { kind: 'direction'; direction: Direction } | { kind: 'drop' };

const BY_KEY: Record<string, ControlAction> = {
  ArrowUp: { kind: 'direction', direction: 'up' },
  ArrowDown: { kind: 'direction', direction: 'down' },
  ArrowLeft: { kind: 'direction', direction: 'left' },
  ArrowRight: { kind: 'direction', direction: 'right' },
  ' ': { kind: 'drop' },
};

// WASD by physical position (KeyboardEvent.code), so AZERTY players get the same shape.
const BY_CODE: Record<string, ControlAction> = {
  KeyW: { kind: 'direction', direction: 'up' },
  KeyS: { kind: 'direction', direction: 'down' },
  KeyA: { kind: 'direction', direction: 'left' },
  KeyD: { kind: 'direction', direction: 'right' },
  Space: { kind: 'drop' },
};

/** The control a key stands for, or undefined. Modified keys (Ctrl+W, Alt+←) stay the browser's. */
export function keyToControl(e: { key: string; code: string; ctrlKey?: boolean; altKey?: boolean; metaKey?: boolean }): ControlAction | undefined {
  if (e.ctrlKey || e.altKey || e.metaKey) return undefined;
  return BY_CODE[e.code] ?? BY_KEY[e.key];
}

export const onCommand = (d: Direction): Command => `${d}On` as Command;
export const offCommand = (d: Direction): Command => `${d}Off` as Command;

/** The timer functions the repeater uses (injectable for tests). */
export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/**
 * Turns presses and releases from any source (keys, pointers, on-screen
 * buttons) into protocol commands. Each source holds a direction
 * independently (keyboard and a finger on the same arrow), and `...Off` is
 * sent only when the last holder lets go.
 */
export class HoldRepeater {
  private readonly held = new Map<Direction, { sources: Set<string>; timer: unknown }>();

  constructor(
    private readonly send: (c: Command) => void,
    private readonly timers: Timers,
    private readonly repeatMs: number = Defaults.repeatMs,
  ) {}

  /** Directions currently held. */
  get active(): Direction[] {
    return [...this.held.keys()];
  }

  press(direction: Direction, source = 'key'): void {
    const h = this.held.get(direction);
    if (h) { h.sources.add(source); return; }
    this.send(onCommand(direction));
    const timer = this.timers.setInterval(() => this.send(onCommand(direction)), this.repeatMs);
    this.held.set(direction, { sources: new Set([source]), timer });
  }

  release(direction: Direction, source = 'key'): void {
    const h = this.held.get(direction);
    if (!h || !h.sources.delete(source)) return;
    if (h.sources.size > 0) return;
    this.timers.clearInterval(h.timer);
    this.held.delete(direction);
    this.send(offCommand(direction));
  }

  /** Lets go of everything (blur, hidden tab, end of turn). */
  releaseAll(): void {
    for (const [direction, h] of [...this.held]) {
      this.timers.clearInterval(h.timer);
      this.held.delete(direction);
      this.send(offCommand(direction));
    }
  }

  /** Drop: directions are released first, so the claw is still when it drops. */
  drop(): void {
    this.releaseAll();
    this.send('drop');
  }
}
