// Wire array → typed message, validated once, here at the edge. Everything
// past this point may trust the shapes in types.ts. Errors are
// ProtocolViolation with a reason a human can act on.
import {
  ProtocolViolation, messageTypeName, type Dict, type Payload, type WampMessage,
} from './types.js';
import { describe, fail, isDict, isId, checkPassthrough } from './validate.js';
import {
  checkCallOptions, checkCancelOptions, checkEventDetails, checkPublishOptions,
  checkRegisterOptions, checkSubscribeOptions, checkYieldOptions,
} from './options.js';

type Arr = readonly unknown[];

function id(a: Arr, i: number, name: string, kind: string): number {
  const v = a[i];
  if (!isId(v)) fail(`${kind} ${name}`, 'an integer id in [0, 2^53]', v);
  return v;
}
function str(a: Arr, i: number, name: string, kind: string): string {
  const v = a[i];
  if (typeof v !== 'string') fail(`${kind} ${name}`, 'a string', v);
  return v;
}
function dict(a: Arr, i: number, name: string, kind: string): Dict {
  const v = a[i];
  if (!isDict(v)) fail(`${kind} ${name}`, 'a dict', v);
  return v;
}
function length(a: Arr, min: number, max: number, kind: string): void {
  if (a.length < min || a.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new ProtocolViolation(`${kind} must have ${want} elements, got ${a.length}`);
  }
}

/** Reads the optional trailing payload starting at index i. */
function payload(a: Arr, i: number, opts: Dict, kind: string): Payload {
  if (a.length <= i) return {};
  if (checkPassthrough(opts, kind)) {
    if (a.length !== i + 1) throw new ProtocolViolation(`${kind} in payload passthrough mode carries exactly one payload element`);
    const p = a[i];
    // The spec's ppt form wraps the payload in the arguments list; autobahn's
    // enc_algo form sends it bare. Either is forwarded exactly as it came.
    if (Array.isArray(p)) return { args: p };
    if (!(p instanceof Uint8Array) && typeof p !== 'string') fail(`${kind} passthrough payload`, 'binary', p);
    return { payload: p };
  }
  const args = a[i];
  if (!Array.isArray(args)) fail(`${kind} Arguments`, 'a list', args);
  if (a.length === i + 1) return { args };
  const kwargs = a[i + 1];
  if (!isDict(kwargs)) fail(`${kind} ArgumentsKw`, 'a dict', kwargs);
  return { args, kwargs };
}

/** `size`: the message's bytes on the wire, kept on PUBLISH for the size limits. */
export function decodeMessage(raw: unknown, size?: number): WampMessage {
  if (!Array.isArray(raw)) throw new ProtocolViolation(`a WAMP message must be a list, got ${describe(raw)}`);
  if (raw.length === 0) throw new ProtocolViolation('a WAMP message must not be an empty list');
  const type = raw[0];
  if (typeof type !== 'number' || !Number.isInteger(type)) fail('message type', 'an integer', type);
  const kind = messageTypeName[type];
  if (kind === undefined) throw new ProtocolViolation(`unknown message type ${type}`);
  const a = raw as Arr;
  switch (type) {
    case 1: length(a, 3, 3, kind); return { type, realm: str(a, 1, 'Realm', kind), details: dict(a, 2, 'Details', kind) };
    case 2: length(a, 3, 3, kind); return { type, session: id(a, 1, 'Session', kind), details: dict(a, 2, 'Details', kind) };
    case 3: length(a, 3, 3, kind); return { type, details: dict(a, 1, 'Details', kind), reason: str(a, 2, 'Reason', kind) };
    case 4: length(a, 3, 3, kind); return { type, authmethod: str(a, 1, 'AuthMethod', kind), extra: dict(a, 2, 'Extra', kind) };
    case 5: length(a, 3, 3, kind); return { type, signature: str(a, 1, 'Signature', kind), extra: dict(a, 2, 'Extra', kind) };
    case 6: length(a, 3, 3, kind); return { type, details: dict(a, 1, 'Details', kind), reason: str(a, 2, 'Reason', kind) };
    case 8: {
      length(a, 5, 7, kind);
      const requestType = a[1];
      if (typeof requestType !== 'number' || !Number.isInteger(requestType)) fail(`${kind} REQUEST.Type`, 'an integer', requestType);
      const details = dict(a, 3, 'Details', kind);
      return { type, requestType, request: id(a, 2, 'Request', kind), details, error: str(a, 4, 'Error', kind), ...payload(a, 5, details, kind) };
    }
    case 16: {
      length(a, 4, 6, kind);
      const options = dict(a, 2, 'Options', kind);
      checkPublishOptions(options);
      return { type, request: id(a, 1, 'Request', kind), options, topic: str(a, 3, 'Topic', kind), size, ...payload(a, 4, options, kind) };
    }
    case 17: length(a, 3, 3, kind); return { type, request: id(a, 1, 'Request', kind), publication: id(a, 2, 'Publication', kind) };
    case 32: {
      length(a, 4, 4, kind);
      const options = dict(a, 2, 'Options', kind);
      checkSubscribeOptions(options);
      return { type, request: id(a, 1, 'Request', kind), options, topic: str(a, 3, 'Topic', kind) };
    }
    case 33: length(a, 3, 3, kind); return { type, request: id(a, 1, 'Request', kind), subscription: id(a, 2, 'Subscription', kind) };
    case 34: length(a, 3, 3, kind); return { type, request: id(a, 1, 'Request', kind), subscription: id(a, 2, 'Subscription', kind) };
    case 35: length(a, 2, 3, kind); return a.length === 3
      ? { type, request: id(a, 1, 'Request', kind), details: dict(a, 2, 'Details', kind) }
      : { type, request: id(a, 1, 'Request', kind) };
    case 36: {
      length(a, 4, 6, kind);
      const details = dict(a, 3, 'Details', kind);
      checkEventDetails(details);
      return { type, subscription: id(a, 1, 'Subscription', kind), publication: id(a, 2, 'Publication', kind), details, ...payload(a, 4, details, kind) };
    }
    case 48: {
      length(a, 4, 6, kind);
      const options = dict(a, 2, 'Options', kind);
      checkCallOptions(options);
      return { type, request: id(a, 1, 'Request', kind), options, procedure: str(a, 3, 'Procedure', kind), ...payload(a, 4, options, kind) };
    }
    case 49: {
      length(a, 3, 3, kind);
      const options = dict(a, 2, 'Options', kind);
      checkCancelOptions(options);
      return { type, request: id(a, 1, 'Request', kind), options };
    }
    case 50: {
      length(a, 3, 5, kind);
      const details = dict(a, 2, 'Details', kind);
      return { type, request: id(a, 1, 'Request', kind), details, ...payload(a, 3, details, kind) };
    }
    case 64: {
      length(a, 4, 4, kind);
      const options = dict(a, 2, 'Options', kind);
      checkRegisterOptions(options);
      return { type, request: id(a, 1, 'Request', kind), options, procedure: str(a, 3, 'Procedure', kind) };
    }
    case 65: length(a, 3, 3, kind); return { type, request: id(a, 1, 'Request', kind), registration: id(a, 2, 'Registration', kind) };
    case 66: length(a, 3, 3, kind); return { type, request: id(a, 1, 'Request', kind), registration: id(a, 2, 'Registration', kind) };
    case 67: length(a, 2, 3, kind); return a.length === 3
      ? { type, request: id(a, 1, 'Request', kind), details: dict(a, 2, 'Details', kind) }
      : { type, request: id(a, 1, 'Request', kind) };
    case 68: {
      length(a, 4, 6, kind);
      const details = dict(a, 3, 'Details', kind);
      return { type, request: id(a, 1, 'Request', kind), registration: id(a, 2, 'Registration', kind), details, ...payload(a, 4, details, kind) };
    }
    case 69: length(a, 3, 3, kind); return { type, request: id(a, 1, 'Request', kind), options: dict(a, 2, 'Options', kind) };
    case 70: {
      length(a, 3, 5, kind);
      const options = dict(a, 2, 'Options', kind);
      checkYieldOptions(options);
      return { type, request: id(a, 1, 'Request', kind), options, ...payload(a, 3, options, kind) };
    }
    case 337: {
      length(a, 2, 5, kind);
      const publication = id(a, 1, 'Publication', kind);
      if (a.length === 2) return { type, publication };
      const details = dict(a, 2, 'Details', kind);
      return { type, publication, details, ...payload(a, 3, details, kind) };
    }
  }
  throw new ProtocolViolation(`unknown message type ${type}`);
}
