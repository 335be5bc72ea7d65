// Roles that a config's auth sections name must exist. Without this check a
// principal whose role is misspelt or was renamed loads fine and fails only
// when that client joins ("no such role"), which on a cabinet or a backend
// means an outage discovered in production rather than at start.
// Roles a dynamic authenticator returns are only known at run time and are
// not checked here.
import { ConfigError } from '../config-error.js';
import type { AuthPolicy } from '../auth/auth-policy.js';

/** A role named in an auth section: for one realm, or for whichever realm a client asks for. */
export interface RoleRef {
  role: string;
  realm?: string;
  /** JSON path of the key that names it. */
  at: string;
}

/** The realms and their roles, as the config defines them. */
export type RealmRoles = readonly { name: string; roles: readonly { name: string }[] }[];

/** Why `ref` names a role no client could get, or undefined when it is fine. */
export function roleRefProblem(realms: RealmRoles, ref: RoleRef): string | undefined {
  if (ref.realm !== undefined) {
    const realm = realms.find((r) => r.name === ref.realm);
    if (realm === undefined) return `realm "${ref.realm}" is not defined (realms: ${realms.map((r) => `"${r.name}"`).join(', ') || 'none'})`;
    if (!realm.roles.some((r) => r.name === ref.role)) return `realm "${ref.realm}" has no role "${ref.role}" (its roles: ${realm.roles.map((r) => `"${r.name}"`).join(', ') || 'none'})`;
    return undefined;
  }
  if (realms.some((r) => r.roles.some((x) => x.name === ref.role))) return undefined;
  return `no realm has a role "${ref.role}"`;
}

/** Throws ConfigError naming the first role reference no client could get. */
export function checkRoleRefs(realms: RealmRoles, refs: readonly RoleRef[]): void {
  for (const ref of refs) {
    const problem = roleRefProblem(realms, ref);
    if (problem !== undefined) throw new ConfigError(`invalid config at ${ref.at}: ${problem}`);
  }
}

/** The roles an auth section (`at`, already turned into `policy`) names. */
export function policyRoleRefs(policy: AuthPolicy, at: string): RoleRef[] {
  const refs: RoleRef[] = [];
  const principals = (method: string, key: string, list: Record<string, { role: string; realm?: string }> | undefined) => {
    for (const [authid, p] of Object.entries(list ?? {})) refs.push({ role: p.role, ...(p.realm !== undefined ? { realm: p.realm } : {}), at: `${at}.${method}.${key}.${authid}.role` });
  };
  if (policy.anonymous !== undefined) refs.push({ role: policy.anonymous.role, at: `${at}.anonymous.role` });
  if (policy.ticket?.type === 'static') principals('ticket', 'principals', policy.ticket.principals);
  (policy.ticket?.signed?.roles ?? []).forEach((role, i) => refs.push({ role, at: `${at}.ticket.signed.roles[${i}]` }));
  if (policy.wampcra?.type === 'static') principals('wampcra', 'users', policy.wampcra.users);
  if (policy.cryptosign?.type === 'static') principals('cryptosign', 'principals', policy.cryptosign.principals);
  return refs;
}
