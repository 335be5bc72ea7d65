// Errors of the HTTP path services. Every refusal is JSON in the shape
// Crossbar's bridge answers with, `{"error", "args", "kwargs"}`, where
// `error` is a URI (a WAMP error URI for WAMP failures, `clawgate.error.http.*`
// for refusals of the request itself) and `args[0]` says what went wrong.
import { WampErrors } from '../errors.js';

export const HttpErrors = {
  notFound: 'clawgate.error.http.not_found',
  methodNotAllowed: 'clawgate.error.http.method_not_allowed',
  forbiddenIp: 'clawgate.error.http.forbidden_ip',
  tlsRequired: 'clawgate.error.http.tls_required',
  unsupportedContentType: 'clawgate.error.http.unsupported_content_type',
  bodyTooLarge: 'clawgate.error.http.body_too_large',
  missingParameter: 'clawgate.error.http.missing_parameter',
  invalidParameter: 'clawgate.error.http.invalid_parameter',
  unknownKey: 'clawgate.error.http.unknown_key',
  invalidSignature: 'clawgate.error.http.invalid_signature',
  staleTimestamp: 'clawgate.error.http.stale_timestamp',
  replayedNonce: 'clawgate.error.http.replayed_nonce',
  busy: 'clawgate.error.http.busy',
  rateLimited: 'clawgate.error.http.rate_limited',
  invalidBody: 'clawgate.error.http.invalid_body',
  unavailable: 'clawgate.error.http.unavailable',
  internal: 'clawgate.error.http.internal',
} as const;

export class HttpError extends Error {
  constructor(readonly status: number, readonly uri: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }

  body(): { error: string; args: unknown[]; kwargs: Record<string, unknown> } {
    return { error: this.uri, args: [this.message], kwargs: {} };
  }
}

/**
 * The HTTP status for a WAMP error a bridged publish or call got back.
 * Errors the router itself raises map to the HTTP status that means the
 * same; any other URI is the callee's application error and gets 200 with
 * the error in the body, as Crossbar answers every WAMP error.
 */
export function statusForWampError(uri: string): number {
  switch (uri) {
    case WampErrors.invalidUri:
    case WampErrors.invalidArgument:
    case WampErrors.protocolViolation:
      return 400;
    case WampErrors.notAuthorized:
    case WampErrors.authorizationFailed:
    case WampErrors.optionDisallowedDiscloseMe:
    case WampErrors.optionNotAllowed:
      return 403;
    case WampErrors.noSuchProcedure:
      return 404;
    case 'clawgate.error.rate_limited':
      return 429;
    case WampErrors.featureNotSupported:
      return 501;
    case WampErrors.canceled:
      return 502;
    case WampErrors.unavailable:
    case WampErrors.noAvailableCallee:
      return 503;
    case WampErrors.timeout:
      return 504;
    default:
      return 200;
  }
}
