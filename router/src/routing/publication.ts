// A publication once the broker (or the router itself: meta events,
// testaments) has accepted it: what every EVENT of it carries.
import type { Dict } from '../messages/types.js';

export interface PublicationData {
  args?: unknown[];
  kwargs?: Dict;
  payload?: Uint8Array | string;
  /** EVENT.Details shared by every subscriber: publisher identity (disclosure.ts) and passthrough keys. */
  details: Dict;
}
