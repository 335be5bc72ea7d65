// A kept publication as the realm's durable store writes it (history-store.ts
// for the event history, persistent-store.ts for persistent subscriptions):
// args, kwargs, payload, details and the black/whitelists, in CBOR, so that
// binary values and 64-bit integers come back as they went in.
import type { Dict } from '../messages/types.js';
import type { PublicationData } from '../routing/publication.js';
import { cborSerializer } from '../serializers/cbor.js';
import type { DecodeLimits } from '../serializers/serializer.js';

/** Rows were written by this router within its endpoint's bounds; reading them back is held only to the widest the config allows. */
const ROW_DECODE_LIMITS: DecodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** `lists`: the publication's receiverLists (receiver-filter.ts), or null. */
export function encodePublication(d: PublicationData, lists: Dict | null): Uint8Array {
  return cborSerializer.encode([d.args ?? null, d.kwargs ?? null, d.payload ?? null, d.details, lists]) as Uint8Array;
}

/** Throws when the body is not one encodePublication wrote. */
export function decodePublication(body: Uint8Array): { data: PublicationData; lists: Dict | null } {
  const v = cborSerializer.decode(body, ROW_DECODE_LIMITS);
  if (!Array.isArray(v) || v.length !== 5) throw new Error('not an event record');
  const [args, kwargs, payload, details, lists] = v as [unknown, unknown, unknown, unknown, unknown];
  const data: PublicationData = { details: isDict(details) ? details : {} };
  if (Array.isArray(args)) data.args = args;
  if (isDict(kwargs)) data.kwargs = kwargs;
  if (typeof payload === 'string' || payload instanceof Uint8Array) data.payload = payload;
  return { data, lists: isDict(lists) ? lists : null };
}
