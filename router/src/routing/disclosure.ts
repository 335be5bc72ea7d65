// Publisher and caller identification (spec: "Publisher Identification",
// "Caller Identification"): the identity fields put into EVENT.Details or
// INVOCATION.Details when the role's permission discloses the publisher or
// the caller. Built here only, for publications, testaments and calls alike.
import type { Dict } from '../messages/types.js';
import type { Actor } from './peer.js';

export function disclose(details: Dict, as: 'publisher' | 'caller', who: Actor): void {
  // Named stores, not computed keys: INVOCATION.Details of a disclosed call is on the RPC path.
  if (as === 'caller') {
    details.caller = who.id;
    details.caller_authid = who.authid;
    details.caller_authrole = who.authrole;
  } else {
    details.publisher = who.id;
    details.publisher_authid = who.authid;
    details.publisher_authrole = who.authrole;
  }
}
