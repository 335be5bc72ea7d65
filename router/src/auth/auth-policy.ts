// Which authentication methods a transport (path) accepts, and the
// negotiation that picks one from HELLO.Details.authmethods, in the client's
// order of preference. The core supports `anonymous`; other methods plug in
// here.
import type { Dict, Hello } from '../messages/types.js';
import type { Realm } from '../realm/realm.js';
import { WampErrors } from '../errors.js';

export interface Identity {
  authid: string;
  authrole: string;
  authmethod: string;
  authprovider: string;
  authextra?: Dict;
}

export interface AnonymousAuth {
  type: 'static';
  role: string;
  /** Fixed authid; otherwise a random one. A client's own HELLO.authid is never trusted. */
  authid?: string;
}

/** Per transport/path: method name → its config (Crossbar's `auth` section). */
export interface AuthPolicy {
  anonymous?: AnonymousAuth;
}

export type AuthOutcome = { identity: Identity } | { error: string; message: string };

/** A transport without an `auth` section admits anonymous sessions with role `anonymous`, as Crossbar does. */
export const DEFAULT_AUTH_POLICY: AuthPolicy = { anonymous: { type: 'static', role: 'anonymous' } };

function randomAuthid(): string {
  // Crossbar-style serial: XXXX-XXXX-XXXX-XXXX-XXXX-XXXX.
  const alphabet = '34679ACEFGHJKLMNPQRTUVWXY';
  let s = '';
  for (let i = 0; i < 24; i++) {
    if (i > 0 && i % 4 === 0) s += '-';
    s += alphabet[Math.floor(Math.random() * alphabet.length)];
  }
  return s;
}

export function negotiateAuth(policy: AuthPolicy, hello: Hello, realm: Realm): AuthOutcome {
  const requested = hello.details.authmethods;
  let methods: string[];
  if (requested === undefined) methods = ['anonymous'];
  else if (Array.isArray(requested) && requested.every((m) => typeof m === 'string')) methods = requested as string[];
  else return { error: WampErrors.protocolViolation, message: 'HELLO.Details.authmethods must be a list of strings' };

  for (const method of methods) {
    if (method === 'anonymous' && policy.anonymous) {
      // Anonymous means unproven: a claimed authid could target another
      // user's eligible_authid events or authid-scoped permissions.
      const authid = policy.anonymous.authid ?? randomAuthid();
      return {
        identity: { authid, authrole: policy.anonymous.role, authmethod: 'anonymous', authprovider: 'static' },
      };
    }
  }
  const offered = Object.keys(policy).join(', ') || 'none';
  return {
    error: WampErrors.noAuthMethod,
    message: `none of the requested authmethods [${methods.join(', ')}] is accepted here on realm "${realm.name}" (accepted: ${offered})`,
  };
}
