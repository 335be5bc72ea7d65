// A publication as event filters see it (broker/content-filter.ts): the
// CEL variables `args`, `kwargs`, `details` and `topic`, built once per
// publication and shared by every filtered subscription it reaches.
//
// The payload is converted, not handed over as decoded, for two reasons.
// Dicts become Maps: the CEL library finds a dict's runtime type by
// enumerating its keys (for...in, which costs the whole key count on a
// large dict) every time an operator touches it, and a Map gives it the
// first entry at once, so comparing a value of the event stays constant
// time. Whole numbers become CEL ints (BigInt): JSON has one number type and
// our decoders give every integer as a JS number, which CEL would take for a
// double (`kwargs.count + 1` would be a type error). The conversion walks
// the payload once, and only for a publication that reaches a filter that
// reads it.
import type { PublicationData } from '../routing/publication.js';

/** Which variables a filter reads (the others are not converted for it). */
export interface FilterReads {
  readonly args: boolean;
  readonly kwargs: boolean;
  readonly details: boolean;
}

/** A JSON/MessagePack/CBOR value as the CEL library takes it. */
function celValue(v: unknown): unknown {
  switch (typeof v) {
    case 'number':
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'undefined':
      // wampy sends MessagePack's `undefined`; CEL has only null.
      return null;
    case 'object': {
      if (v === null || v instanceof Uint8Array || v instanceof Date) return v;
      if (Array.isArray(v)) return v.map(celValue);
      const m = new Map<string, unknown>();
      for (const k of Object.keys(v)) m.set(k, celValue((v as Record<string, unknown>)[k]));
      return m;
    }
    default:
      return v;
  }
}

export class FilterEvent {
  /** The CEL activation: grows by what the filters evaluated so far needed. */
  private readonly vars: Record<string, unknown>;
  /**
   * A passthrough payload (`enc_algo`/`ppt_scheme`, or binary): Arguments
   * and ArgumentsKw are opaque, so a filter that reads them is not
   * evaluated and the event is not delivered to it.
   */
  readonly opaque: boolean;

  constructor(topic: string, private readonly data: PublicationData) {
    this.vars = { topic };
    const d = data.details;
    this.opaque = data.payload !== undefined || d.enc_algo !== undefined || d.ppt_scheme !== undefined;
  }

  /** The variables for a filter reading `reads`, or null when it reads a payload that is opaque. */
  variables(reads: FilterReads): Record<string, unknown> | null {
    const vars = this.vars;
    if (reads.args && vars.args === undefined) {
      if (this.opaque) return null;
      vars.args = celValue(this.data.args ?? []);
    }
    if (reads.kwargs && vars.kwargs === undefined) {
      if (this.opaque) return null;
      vars.kwargs = celValue(this.data.kwargs ?? {});
    }
    if (reads.details && vars.details === undefined) vars.details = celValue(this.data.details);
    return vars;
  }
}
