import { DEFAULT_DECODE_LIMITS, type Serializer } from './serializer.js';
import { jsonNeedsScan, scanJson } from './json-scan.js';

// WAMP's JSON convention for binary: a string of "\0" followed by base64.
const BINARY_MARK = '\u0000';
const ESCAPED_MARK = '\\u0000';

/** Binary and BigInt need the slow replacer; everything else takes JSON.stringify's fast path. */
function needsReplacer(v: unknown, depth = 0): boolean {
  // typeof first: most values are primitives, and it is cheaper than instanceof.
  const t = typeof v;
  if (t !== 'object') return t === 'bigint';
  if (v === null) return false;
  if (v instanceof Uint8Array) return true;
  if (depth > 32) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (needsReplacer(v[i], depth + 1)) return true;
    return false;
  }
  for (const k in v) if (needsReplacer((v as Record<string, unknown>)[k], depth + 1)) return true;
  return false;
}

// A function replacer slows stringify for every value, so it is used only
// when the message actually holds binary (rare on the hot path).
function binaryReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (original instanceof Uint8Array) return BINARY_MARK + Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  // JSON has no bignums: a BigInt from a CBOR/MessagePack peer becomes the nearest number.
  if (typeof value === 'bigint') return Number(value);
  return value;
}

function reviveBinary(v: unknown): unknown {
  if (typeof v === 'string') {
    return v.length > 0 && v.charCodeAt(0) === 0 ? Buffer.from(v.slice(1), 'base64') : v;
  }
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reviveBinary(v[i]);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) o[k] = reviveBinary(o[k]);
  return o;
}

export const jsonSerializer: Serializer = {
  id: 'json',
  wsProtocol: 'wamp.2.json',
  rawsocketCode: 1,
  binary: false,
  encode(message) {
    return needsReplacer(message) ? JSON.stringify(message, binaryReplacer) : JSON.stringify(message);
  },
  decode(data, limits = DEFAULT_DECODE_LIMITS) {
    const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    if (jsonNeedsScan(text, limits)) scanJson(text, limits);
    const value: unknown = JSON.parse(text);
    return text.includes(ESCAPED_MARK) ? reviveBinary(value) : value;
  },
};
