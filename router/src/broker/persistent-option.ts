// SUBSCRIBE.Options.x_persistent (ClawGate extension): `{name, ttl?}` ties
// the subscription to (realm, authid, name) so that events published while
// no session of the authid holds it are kept for its return
// (persistent-subscriptions.ts). Checked here, before authorization: a bad
// option is ERROR wamp.error.invalid_option naming the problem, and the
// session goes on, as for a bad x_filter.
import type { Dict } from '../messages/types.js';
import { isDict } from '../messages/validate.js';

export const PERSISTENT_OPTION = 'x_persistent';
/** Characters of a persistent subscription's name. */
export const MAX_PERSISTENT_NAME = 128;

export interface PersistentOption {
  readonly name: string;
  /** Seconds the subscription lives detached; undefined: the realm's persistent_ttl. */
  readonly ttl: number | undefined;
}

const KEYS = new Set(['name', 'ttl']);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a dict' : `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

/** The option, or why it is refused (the message of ERROR wamp.error.invalid_option). */
export function parsePersistentOption(v: unknown, maxTtlSeconds: number): PersistentOption | string {
  const o = PERSISTENT_OPTION;
  if (!isDict(v)) return `${o} must be a dict {name, ttl?}, got ${describe(v)}`;
  const d = v as Dict;
  for (const k of Object.keys(d)) if (!KEYS.has(k)) return `${o} has an unknown key "${k.slice(0, 40)}" (it takes name and ttl)`;
  const name = d.name;
  if (typeof name !== 'string') return `${o}.name must be a string, got ${describe(name)}`;
  if (name === '') return `${o}.name must not be empty`;
  if (name.length > MAX_PERSISTENT_NAME) return `${o}.name has ${name.length} characters, more than ${MAX_PERSISTENT_NAME}`;
  if (CONTROL.test(name)) return `${o}.name must not contain control characters`;
  const ttl = d.ttl;
  if (ttl === undefined) return { name, ttl: undefined };
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) return `${o}.ttl must be a whole number of seconds, at least 1, got ${describe(ttl)}`;
  if (ttl > maxTtlSeconds) return `${o}.ttl of ${ttl} seconds is longer than max_persistent_ttl (${maxTtlSeconds})`;
  return { name, ttl };
}
