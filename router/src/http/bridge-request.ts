// The JSON bodies of HTTP Publisher and HTTP Caller requests (Crossbar's
// format), checked into what the bridge's session sends. Options are
// checked like a client's PUBLISH/CALL options, and only the ones that make
// sense for a one-shot HTTP request are taken.
import type { Dict } from '../messages/types.js';
import { ProtocolViolation } from '../messages/types.js';
import { checkCallOptions, checkPublishOptions } from '../messages/options.js';
import { isDict } from '../messages/validate.js';
import { HttpError, HttpErrors } from './http-error.js';

export interface PublishRequest { topic: string; args: unknown[]; kwargs: Dict; options: Dict }
export interface CallRequest { procedure: string; args: unknown[]; kwargs: Dict; options: Dict }

/** PUBLISH options an HTTP publisher may set (acknowledge is always on; exclude_me is moot). */
export const BRIDGE_PUBLISH_OPTIONS = ['exclude', 'exclude_authid', 'exclude_authrole', 'eligible', 'eligible_authid', 'eligible_authrole', 'retain', 'disclose_me'];
/** CALL options an HTTP caller may set. */
export const BRIDGE_CALL_OPTIONS = ['timeout', 'disclose_me'];

function bad(message: string): HttpError {
  return new HttpError(400, HttpErrors.invalidBody, message);
}

/** Crossbar reads a missing or falsy `args`/`kwargs`/`options` as empty. */
function payload(body: Dict): { args: unknown[]; kwargs: Dict; options: Dict } {
  const args = body.args ?? [];
  const kwargs = body.kwargs ?? {};
  const options = body.options ?? {};
  if (!Array.isArray(args)) throw bad('"args" must be a list');
  if (!isDict(kwargs)) throw bad('"kwargs" must be an object');
  if (!isDict(options)) throw bad('"options" must be an object');
  return { args, kwargs, options };
}

function pickOptions(options: Dict, allowed: readonly string[], check: (o: Dict) => void): Dict {
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw bad(`option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} not supported by the HTTP bridge (supported: ${allowed.join(', ')})`);
  try {
    check(options);
  } catch (e) {
    if (e instanceof ProtocolViolation) throw bad(`invalid options: ${e.message}`);
    throw e;
  }
  return options;
}

export function publishRequest(body: Dict): PublishRequest {
  if (body.topic === undefined) throw new HttpError(400, HttpErrors.invalidBody, 'request body is missing "topic"');
  if (typeof body.topic !== 'string') throw bad('"topic" must be a string');
  const { args, kwargs, options } = payload(body);
  return { topic: body.topic, args, kwargs, options: pickOptions(options, BRIDGE_PUBLISH_OPTIONS, checkPublishOptions) };
}

/** `maxTimeoutMs` bounds the call: a request may ask for less (options.timeout), never more. */
export function callRequest(body: Dict, maxTimeoutMs: number): CallRequest {
  if (body.procedure === undefined) throw new HttpError(400, HttpErrors.invalidBody, 'request body is missing "procedure"');
  if (typeof body.procedure !== 'string') throw bad('"procedure" must be a string');
  const { args, kwargs, options } = payload(body);
  const o = pickOptions(options, BRIDGE_CALL_OPTIONS, checkCallOptions);
  const asked = typeof o.timeout === 'number' && o.timeout > 0 ? o.timeout : maxTimeoutMs;
  return { procedure: body.procedure, args, kwargs, options: { ...o, timeout: Math.min(asked, maxTimeoutMs) } };
}
