// Which authentication method a failed login was refused by, for the
// auth-failures metric: the first method the client asked for that the
// endpoint accepts (the one negotiation picks, see auth/negotiate.ts), or
// `none` when no requested method is accepted there.
import type { AuthPolicy } from '../auth/auth-policy.js';

const METHODS = ['anonymous', 'ticket', 'wampcra', 'cryptosign'] as const;

export function failedAuthMethod(requested: readonly string[], policy: AuthPolicy): string {
  for (const m of requested) {
    if ((METHODS as readonly string[]).includes(m) && policy[m as (typeof METHODS)[number]] !== undefined) return m;
  }
  return 'none';
}
