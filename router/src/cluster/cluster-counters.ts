// What crossed between this node and the others, for /metrics and tests.
export class ClusterCounters {
  /** Node messages published (publications to the other nodes). */
  sent = 0;
  /** Publications received from other nodes. */
  received = 0;
  /** Publications that could not be handed to NATS. */
  sendFailures = 0;
  /** The router's own publications too large for NATS (delivered on this node only). */
  tooLarge = 0;
  /** Node messages or bucket entries that did not decode (dropped). */
  malformed = 0;
  /** Retained events not written to the cluster's bucket. */
  storeFailures = 0;
  /** Sessions of lost nodes this node fired on_leave (and testaments) for. */
  lostSessions = 0;
  /** Delete markers cleared from the cluster's tables by this node's sweeps (watched-bucket.ts). */
  markersCleared = 0;
  /** Entries found gone when a table was read again after a long NATS outage (watched-bucket.ts, reconcile). */
  entriesReconciled = 0;

  snapshot(): Record<string, number> {
    return { sent: this.sent, received: this.received, send_failures: this.sendFailures, too_large: this.tooLarge, malformed: this.malformed, store_failures: this.storeFailures, lost_sessions: this.lostSessions,
      markers_cleared: this.markersCleared, entries_reconciled: this.entriesReconciled,
    };
  }
}
