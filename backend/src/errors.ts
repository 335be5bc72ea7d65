// A refusal the callers see as a WAMP error: one of the protocol's
// claw.error.* URIs and a message saying what was wrong.
import type { ClawErrorUri } from '@clawgate/protocol';

export class ClawFault extends Error {
  constructor(readonly uri: ClawErrorUri, message: string) {
    super(message);
    this.name = 'ClawFault';
  }
}
