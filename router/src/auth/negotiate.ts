// Picks the authentication method for a HELLO: the first of the client's
// HELLO.Details.authmethods (in its order of preference) that the transport
// accepts, as Crossbar does. That method's verdict is final: a failed ticket
// does not fall back to anonymous.
import type { Hello } from '../messages/types.js';
import { WampErrors } from '../errors.js';
import { isDict } from '../messages/validate.js';
import type { AuthPolicy } from './auth-policy.js';
import { refuse, type AuthContext, type HelloClaims, type MaybePromise, type Step } from './authentication.js';
import { ticketHello } from './ticket-auth.js';
import { wampcraHello } from './wampcra-auth.js';
import { cryptosignHello } from './cryptosign-auth.js';

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

/** The first step of authenticating `hello` under `policy`. */
export function startAuthentication(policy: AuthPolicy, hello: Hello, ctx: AuthContext): MaybePromise<Step> {
  const d = hello.details;
  let methods: string[];
  if (d.authmethods === undefined) methods = ['anonymous'];
  else if (Array.isArray(d.authmethods) && d.authmethods.every((m) => typeof m === 'string')) methods = d.authmethods as string[];
  else return refuse(WampErrors.protocolViolation, 'HELLO.Details.authmethods must be a list of strings');
  if (d.authid !== undefined && d.authid !== null && typeof d.authid !== 'string') {
    return refuse(WampErrors.protocolViolation, 'HELLO.Details.authid must be a string');
  }
  if (d.authextra !== undefined && d.authextra !== null && !isDict(d.authextra)) {
    return refuse(WampErrors.protocolViolation, 'HELLO.Details.authextra must be a dict');
  }
  const claims: HelloClaims = {
    authid: typeof d.authid === 'string' ? d.authid : undefined,
    authextra: isDict(d.authextra) ? d.authextra : {},
  };

  for (const method of methods) {
    switch (method) {
      case 'anonymous':
        if (policy.anonymous) {
          // Anonymous means unproven: a claimed authid could target another
          // user's eligible_authid events or authid-scoped permissions.
          const authid = policy.anonymous.authid ?? randomAuthid();
          return { welcome: { authid, authrole: policy.anonymous.role, authmethod: 'anonymous', authprovider: 'static' } };
        }
        break;
      case 'ticket':
        if (policy.ticket) return ticketHello(policy.ticket, claims, ctx);
        break;
      case 'wampcra':
        if (policy.wampcra) return wampcraHello(policy.wampcra, claims, ctx);
        break;
      case 'cryptosign':
        if (policy.cryptosign) return cryptosignHello(policy.cryptosign, claims, ctx);
        break;
    }
  }
  const offered = (['anonymous', 'ticket', 'wampcra', 'cryptosign'] as const).filter((m) => policy[m] !== undefined).join(', ') || 'none';
  return refuse(
    WampErrors.noAuthMethod,
    `none of the requested authmethods [${methods.join(', ')}] is accepted here on realm "${ctx.realm}" (accepted: ${offered})`,
  );
}
