// A refusal the callers see as a WAMP error: one of the protocol's
// claw.error.* URIs, a message saying what was wrong, and for some errors
// details a client can act on (kwargs, e.g. `until` of claw.error.blocked).
import type { ClawErrorUri } from '@clawgate/protocol';

export class ClawFault extends Error {
  constructor(readonly uri: ClawErrorUri, message: string, readonly kwargs?: Record<string, unknown>) {
    super(message);
    this.name = 'ClawFault';
  }
}
