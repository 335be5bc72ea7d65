// What router nodes send each other over NATS, in CBOR (binary values and
// 64-bit integers arrive as they left, as in the durable history's rows).
// Decoded once where it arrives; a message that is not one of these is
// dropped and logged there, never handed on.
import type { Dict } from '../messages/types.js';
import type { PublicationData } from '../routing/publication.js';
import { cborSerializer } from '../serializers/cbor.js';
import type { DecodeLimits } from '../serializers/serializer.js';

/** Messages come from nodes of our own cluster, each within its endpoints' bounds: only depth is held, to the widest a config allows. */
const NODE_DECODE_LIMITS: DecodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };

export const Kind = {
  /** A publication accepted on the sending node (on the realm's event subject). */
  Event: 1,
  /** "Everything I published before this has reached you" (on the event subject), the answer to a SyncRequest. */
  SyncMarker: 2,
  /** "Send me your marker" (on the realm's sync subject). */
  SyncRequest: 3,
} as const;

export interface WireEvent {
  kind: typeof Kind.Event;
  topic: string;
  publication: number;
  /** Non-zero for a retained publication: its stamp (retained-stamp.ts). */
  retainStamp: number;
  data: PublicationData;
  /** The publication's black/whitelists (receiver-filter.ts receiverLists), or null. */
  lists: Dict | null;
}

export interface WireSyncMarker { kind: typeof Kind.SyncMarker; to: string; id: number; from: string }
export interface WireSyncRequest { kind: typeof Kind.SyncRequest; from: string; id: number }
export type WireMessage = WireEvent | WireSyncMarker | WireSyncRequest;

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

export function encodeEvent(topic: string, publication: number, retainStamp: number, d: PublicationData, lists: Dict | null): Uint8Array {
  return cborSerializer.encode([Kind.Event, topic, publication, retainStamp, d.args ?? null, d.kwargs ?? null, d.payload ?? null, d.details, lists]) as Uint8Array;
}

export function encodeSyncMarker(to: string, id: number, from: string): Uint8Array {
  return cborSerializer.encode([Kind.SyncMarker, to, id, from]) as Uint8Array;
}

export function encodeSyncRequest(from: string, id: number): Uint8Array {
  return cborSerializer.encode([Kind.SyncRequest, from, id]) as Uint8Array;
}

function publicationData(args: unknown, kwargs: unknown, payload: unknown, details: unknown): PublicationData {
  const data: PublicationData = { details: isDict(details) ? details : {} };
  if (Array.isArray(args)) data.args = args;
  if (isDict(kwargs)) data.kwargs = kwargs;
  if (typeof payload === 'string' || payload instanceof Uint8Array) data.payload = payload;
  return data;
}

/** Throws when the bytes are not a message encode*() wrote. */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  const v = cborSerializer.decode(bytes, NODE_DECODE_LIMITS);
  if (!Array.isArray(v)) throw new Error('not a node message');
  switch (v[0]) {
    case Kind.Event: {
      const [, topic, publication, retainStamp, args, kwargs, payload, details, lists] = v as unknown[];
      if (typeof topic !== 'string' || typeof publication !== 'number' || typeof retainStamp !== 'number') throw new Error('malformed event');
      return { kind: Kind.Event, topic, publication, retainStamp, data: publicationData(args, kwargs, payload, details), lists: isDict(lists) ? lists : null };
    }
    case Kind.SyncMarker: {
      const [, to, id, from] = v as unknown[];
      if (typeof to !== 'string' || typeof id !== 'number' || typeof from !== 'string') throw new Error('malformed sync marker');
      return { kind: Kind.SyncMarker, to, id, from };
    }
    case Kind.SyncRequest: {
      const [, from, id] = v as unknown[];
      if (typeof from !== 'string' || typeof id !== 'number') throw new Error('malformed sync request');
      return { kind: Kind.SyncRequest, from, id };
    }
    default:
      throw new Error(`unknown node message kind ${String(v[0])}`);
  }
}

/** A retained event as the realm's retained bucket keeps it (the value of its topic's key). */
export function encodeRetained(topic: string, publication: number, stamp: number, d: PublicationData, lists: Dict | null): Uint8Array {
  return cborSerializer.encode([topic, publication, stamp, d.args ?? null, d.kwargs ?? null, d.payload ?? null, d.details, lists]) as Uint8Array;
}

export function decodeRetained(bytes: Uint8Array): { topic: string; publication: number; stamp: number; data: PublicationData; lists: Dict | null } {
  const v = cborSerializer.decode(bytes, NODE_DECODE_LIMITS);
  if (!Array.isArray(v) || v.length !== 8) throw new Error('not a retained event');
  const [topic, publication, stamp, args, kwargs, payload, details, lists] = v as unknown[];
  if (typeof topic !== 'string' || typeof publication !== 'number' || typeof stamp !== 'number') throw new Error('malformed retained event');
  return { topic, publication, stamp, data: publicationData(args, kwargs, payload, details), lists: isDict(lists) ? lists : null };
}
