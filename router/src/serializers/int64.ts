// 64-bit integers across serializers. WAMP ids live in [0, 2^53] and peers
// write them as integers; some encoders write large JS numbers as floats and
// read every 64-bit integer as a BigInt. These walks put integers on the wire
// as integers and give safe integers back as plain numbers.

const TWO_32 = 2 ** 32;

/** Integer numbers beyond 32 bits become BigInt (copy-on-write; input untouched). */
export function largeIntsToBigInt(v: unknown, depth = 0): unknown {
  if (typeof v === 'number') {
    return (v >= TWO_32 || v < -TWO_32) && Number.isSafeInteger(v) ? BigInt(v) : v;
  }
  if (typeof v !== 'object' || v === null || depth > 64 || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = largeIntsToBigInt(v[i], depth + 1);
      if (x !== v[i]) { out ??= v.slice(); out[i] = x; }
    }
    return out ?? v;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const o = (v as Record<string, unknown>)[k];
    const x = largeIntsToBigInt(o, depth + 1);
    if (x !== o) { out ??= { ...(v as Record<string, unknown>) }; out[k] = x; }
  }
  return out ?? v;
}

/** Safe BigInts become numbers, in place; larger ones stay BigInt. */
export function safeBigIntsToNumber(v: unknown, depth = 0): unknown {
  if (typeof v === 'bigint') {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }
  if (typeof v !== 'object' || v === null || depth > 64 || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = safeBigIntsToNumber(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) o[k] = safeBigIntsToNumber(o[k], depth + 1);
  return o;
}
