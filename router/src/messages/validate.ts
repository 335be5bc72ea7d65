// Small pure checks shared by the decoder and the option validators.
import { ProtocolViolation, type Dict } from './types.js';

export const MAX_ID = 2 ** 53;

export function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'binary';
  if (typeof v === 'object') return 'dict';
  return typeof v;
}

/** WAMP ids are integers in [0, 2^53] (Crossbar accepts 0; the spec's generators start at 1). */
export function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_ID;
}

export function fail(what: string, expected: string, got: unknown): never {
  throw new ProtocolViolation(`${what} must be ${expected}, got ${describe(got)}`);
}

export function checkBoolOpt(opts: Dict, key: string, where: string): void {
  const v = opts[key];
  if (v !== undefined && typeof v !== 'boolean') fail(`${where} option "${key}"`, 'a boolean', v);
}

export function checkStringOpt(opts: Dict, key: string, where: string): void {
  const v = opts[key];
  if (v !== undefined && typeof v !== 'string') fail(`${where} option "${key}"`, 'a string', v);
}

export function checkIdListOpt(opts: Dict, key: string, where: string): void {
  const v = opts[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every(isId)) fail(`${where} option "${key}"`, 'a list of session ids', v);
}

export function checkStringListOpt(opts: Dict, key: string, where: string): void {
  const v = opts[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(`${where} option "${key}"`, 'a list of strings', v);
}

export function checkNonNegIntOpt(opts: Dict, key: string, where: string): void {
  const v = opts[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${where} option "${key}"`, 'a non-negative integer', v);
}

export function checkOneOfOpt(opts: Dict, key: string, allowed: readonly string[], where: string): void {
  const v = opts[key];
  if (v === undefined) return;
  if (typeof v !== 'string' || !allowed.includes(v)) {
    throw new ProtocolViolation(`${where} option "${key}" must be one of ${allowed.join('|')}, got ${JSON.stringify(v)}`);
  }
}

export function checkForwardFor(opts: Dict, where: string): void {
  const v = opts.forward_for;
  if (v === undefined) return;
  const ok = Array.isArray(v) && v.every((h) => isDict(h) && isId(h.session) && typeof h.authid === 'string' && typeof h.authrole === 'string');
  if (!ok) fail(`${where} option "forward_for"`, 'a list of {session, authid, authrole}', v);
}

// `wamp` is the spec's end-to-end encryption scheme; `null` marks an unencrypted opaque payload.
const KNOWN_ENC_ALGOS = ['cryptobox', 'mqtt', 'xbr', 'wamp', 'null'];

/** Options/Details keys that describe a passthrough payload; the router forwards them with it. */
export const PASSTHROUGH_KEYS = ['enc_algo', 'enc_serializer', 'enc_key', 'ppt_scheme', 'ppt_serializer', 'ppt_cipher', 'ppt_keyid'] as const;

/** Copies the passthrough keys of `from` into `to` (present only when the payload is opaque). */
export function copyPassthrough(from: Dict, to: Dict): Dict {
  // Driven by `from`'s keys: options are usually empty, and this runs for every call and result.
  for (const k in from) if (PASSTHROUGH_KEY_SET.has(k) && from[k] !== undefined) to[k] = from[k];
  return to;
}
const PASSTHROUGH_KEY_SET: ReadonlySet<string> = new Set(PASSTHROUGH_KEYS);

/** Payload passthrough mode (spec §14.7): enc_algo/ppt_scheme say the payload is opaque. */
export function checkPassthrough(opts: Dict, where: string): boolean {
  const algo = opts.enc_algo ?? opts.ppt_scheme;
  if (algo === undefined) return false;
  if (typeof algo !== 'string' || !(KNOWN_ENC_ALGOS.includes(algo) || algo.startsWith('x_'))) {
    const key = opts.enc_algo !== undefined ? 'enc_algo' : 'ppt_scheme';
    throw new ProtocolViolation(`${where} option "${key}" must be one of ${KNOWN_ENC_ALGOS.join('|')} or x_<custom>, got ${JSON.stringify(algo)}`);
  }
  checkStringOpt(opts, 'enc_serializer', where);
  checkStringOpt(opts, 'enc_key', where);
  checkStringOpt(opts, 'ppt_serializer', where);
  checkStringOpt(opts, 'ppt_cipher', where);
  checkStringOpt(opts, 'ppt_keyid', where);
  return true;
}
