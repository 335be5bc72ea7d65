// Time as a dependency: the safety layer, the turn and the simulator never
// read the wall clock or start timers directly, so unit tests drive them with
// FakeClock and assert exact pulse lengths and hold timeouts.

export type TimerHandle = { readonly id: number };

export interface Clock {
  /** ms since the epoch (the real clock) or since the fake clock's start. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

let nextId = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return Object.assign({ id: nextId++ }, { timer });
  },
  clearTimeout(handle) {
    if (handle === undefined) return;
    clearTimeout((handle as unknown as { timer: NodeJS.Timeout }).timer);
  },
};
