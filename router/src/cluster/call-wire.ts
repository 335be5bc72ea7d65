// What router nodes send each other for calls (cluster/call-link.ts), in
// CBOR like wire.ts: on the call subject of the node it is for.
import type { Dict, RouterMessage } from '../messages/types.js';
import { MessageType } from '../messages/types.js';
import { cborSerializer } from '../serializers/cbor.js';
import type { DecodeLimits } from '../serializers/serializer.js';

const LIMITS: DecodeLimits = { maxElements: Number.MAX_SAFE_INTEGER, maxDepth: 1001 };

export const CallKind = {
  /** An INVOCATION (or a later chunk of a progressive one) for a callee of the receiving node. */
  Invoke: 1,
  /** An INTERRUPT for one of them. */
  Interrupt: 2,
  /** The callee's YIELD (progressive or final), for the caller's node. */
  Result: 3,
  /** The callee's ERROR, or the callee's node's, for the caller's node. */
  Error: 4,
  /** force_reregister on another node took a registration from a callee of the receiving node. */
  Revoke: 5,
} as const;

export interface CallData { args?: unknown[]; kwargs?: Dict; payload?: Uint8Array | string }

export type WireCall =
  | { kind: typeof CallKind.Invoke; from: string; request: number; callee: number; registration: number; details: Dict; progress: boolean; data: CallData }
  | { kind: typeof CallKind.Interrupt; from: string; request: number; options: Dict }
  | { kind: typeof CallKind.Result; from: string; request: number; callee: number; details: Dict; data: CallData }
  | { kind: typeof CallKind.Error; from: string; request: number; callee: number; error: string; details: Dict; data: CallData }
  | { kind: typeof CallKind.Revoke; from: string; callee: number; registration: number; reason: string };

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const enc = (v: unknown[]): Uint8Array => cborSerializer.encode(v) as Uint8Array;

function data(args: unknown, kwargs: unknown, payload: unknown): CallData {
  const d: CallData = {};
  if (Array.isArray(args)) d.args = args;
  if (isDict(kwargs)) d.kwargs = kwargs;
  if (typeof payload === 'string' || payload instanceof Uint8Array) d.payload = payload;
  return d;
}

export function encodeInvoke(from: string, request: number, callee: number, registration: number, details: Dict, m: CallData): Uint8Array {
  // The dealer sends a chunk's Details with progress: true; it travels as its own field.
  const progress = details.progress === true;
  let d = details;
  if (progress) { d = { ...details }; delete d.progress; }
  return enc([CallKind.Invoke, from, request, callee, registration, d, progress, m.args ?? null, m.kwargs ?? null, m.payload ?? null]);
}

export function encodeInterrupt(from: string, request: number, options: Dict): Uint8Array {
  return enc([CallKind.Interrupt, from, request, options]);
}

export function encodeAnswer(from: string, callee: number, m: RouterMessage): Uint8Array {
  if (m.type === MessageType.RESULT) return enc([CallKind.Result, from, m.request, callee, m.details, m.args ?? null, m.kwargs ?? null, m.payload ?? null]);
  if (m.type === MessageType.ERROR) return enc([CallKind.Error, from, m.request, callee, m.error, m.details, m.args ?? null, m.kwargs ?? null, m.payload ?? null]);
  throw new Error('not an answer');
}

export function encodeRevoke(from: string, callee: number, registration: number, reason: string): Uint8Array {
  return enc([CallKind.Revoke, from, callee, registration, reason]);
}

/** Throws when the bytes are not a message encode*() wrote. */
export function decodeCall(bytes: Uint8Array): WireCall {
  const v = cborSerializer.decode(bytes, LIMITS);
  if (!Array.isArray(v) || typeof v[1] !== 'string') throw new Error('not a call message');
  const from = v[1] as string;
  const num = (x: unknown): number => { if (typeof x !== 'number') throw new Error('malformed call message'); return x; };
  const dict = (x: unknown): Dict => { if (!isDict(x)) throw new Error('malformed call message'); return x; };
  switch (v[0]) {
    case CallKind.Invoke:
      return { kind: CallKind.Invoke, from, request: num(v[2]), callee: num(v[3]), registration: num(v[4]), details: dict(v[5]), progress: v[6] === true, data: data(v[7], v[8], v[9]) };
    case CallKind.Interrupt:
      return { kind: CallKind.Interrupt, from, request: num(v[2]), options: dict(v[3]) };
    case CallKind.Result:
      return { kind: CallKind.Result, from, request: num(v[2]), callee: num(v[3]), details: dict(v[4]), data: data(v[5], v[6], v[7]) };
    case CallKind.Error:
      if (typeof v[4] !== 'string') throw new Error('malformed call error');
      return { kind: CallKind.Error, from, request: num(v[2]), callee: num(v[3]), error: v[4], details: dict(v[5]), data: data(v[6], v[7], v[8]) };
    case CallKind.Revoke:
      if (typeof v[4] !== 'string') throw new Error('malformed revoke');
      return { kind: CallKind.Revoke, from, callee: num(v[2]), registration: num(v[3]), reason: v[4] };
    default:
      throw new Error(`unknown call message kind ${String(v[0])}`);
  }
}
