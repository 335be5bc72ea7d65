// Permission URI templates: `{authid}`, `{authrole}` and `{session}` in a
// permission's URI stand for the acting session's own values, so one rule
// like `claw.player.{authid}` gives each player their own topic.
//
// The values come from credentials, and an authid is only as tame as
// whoever issued it. A value that is not exactly one URI component (empty,
// or containing '.', '#', whitespace, a wildcard or a brace) could widen the
// rule to other URIs, so a template with such a value never matches at all.
import type { Permission } from './permissions.js';

export const PLACEHOLDERS = ['authid', 'authrole', 'session'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type TemplateValues = Record<Placeholder, string>;

const ANY_BRACE = /[{}]/;
const PLACEHOLDER = /\{([^{}]*)\}/g;
/** One URI component that can't be read as more (or less) than itself. */
const SAFE_COMPONENT = /^[^\s.#{}*]+$/;

export function isTemplate(uri: string): boolean {
  return ANY_BRACE.test(uri);
}

/** Why `uri` is not a well-formed template, or undefined when it is (or has no braces). */
export function templateError(uri: string): string | undefined {
  const names = [...uri.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  for (const n of names) {
    if (!(PLACEHOLDERS as readonly string[]).includes(n)) return `unknown placeholder "{${n}}" (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`;
  }
  if (ANY_BRACE.test(uri.replace(PLACEHOLDER, ''))) return 'unbalanced "{" or "}"';
  return undefined;
}

export function isSafeComponent(value: string): boolean {
  return value.length <= 256 && SAFE_COMPONENT.test(value);
}

/** The URI with placeholders filled in, or undefined when a value is not a safe component. */
export function expandTemplate(uri: string, values: TemplateValues): string | undefined {
  let unsafe = false;
  const out = uri.replace(PLACEHOLDER, (_m, name: string) => {
    const v = values[name as Placeholder];
    if (v === undefined || !isSafeComponent(v)) unsafe = true;
    return v ?? '';
  });
  return unsafe ? undefined : out;
}

/** The permissions as they apply to one session: templates expanded, unusable ones dropped. */
export function expandPermissions(perms: readonly Permission[], values: TemplateValues): Permission[] {
  const out: Permission[] = [];
  for (const p of perms) {
    if (!isTemplate(p.uri)) { out.push(p); continue; }
    const uri = expandTemplate(p.uri, values);
    if (uri !== undefined) out.push({ ...p, uri });
  }
  return out;
}
