// An error with a claw protocol error URI; the WAMP layer turns it into a
// WAMP ERROR with that URI.
import type { ClawErrorUri } from '@clawgate/protocol';

export class ClawError extends Error {
  override readonly name = 'ClawError';
  constructor(readonly uri: ClawErrorUri, message: string) { super(message); }
}
