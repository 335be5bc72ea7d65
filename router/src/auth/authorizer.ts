// A dynamic authorizer's answer, read the way Crossbar reads it: a boolean,
// or a dict {allow, disclose?, cache?}. Anything else is a refusal.
import type { Decision } from './permissions.js';

export interface AuthorizerAnswer {
  decision: Decision;
  /** Remember this decision for the rest of the session (per uri and action). */
  cache: boolean;
}

export function parseAuthorizerAnswer(v: unknown): AuthorizerAnswer | undefined {
  if (typeof v === 'boolean') return { decision: { allow: v, disclose: false }, cache: false };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const { allow, disclose, cache } = v as Record<string, unknown>;
  if (typeof allow !== 'boolean') return undefined;
  if (disclose !== undefined && typeof disclose !== 'boolean') return undefined;
  if (cache !== undefined && typeof cache !== 'boolean') return undefined;
  return { decision: { allow, disclose: allow && disclose === true }, cache: cache === true };
}
