// Viewer admission (pure): a new viewer is refused when its session, its
// machine or the whole service already has the configured number.

export interface ViewerLimits {
  /** Viewers one WAMP session may hold at once (a page shows one machine; a dashboard a thumbnail per machine). */
  perSession: number;
  /** Viewers of one machine at once. */
  perMachine: number;
  /** Viewers of the whole service at once. */
  total: number;
}

export interface ViewerCounts { session: number; machine: number; total: number }

/** Which limit a new viewer would pass, or `undefined` when it is admitted. */
export function refusal(counts: ViewerCounts, limits: ViewerLimits): 'session' | 'machine' | 'total' | undefined {
  if (counts.session >= limits.perSession) return 'session';
  if (counts.machine >= limits.perMachine) return 'machine';
  if (counts.total >= limits.total) return 'total';
  return undefined;
}
