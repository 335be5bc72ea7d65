// A role on a realm, and the cached decisions for it. Decisions are pure
// functions of (role, uri, action), so each is computed once per URI.
import { authorize, type Action, type Decision, type Permission } from '../auth/permissions.js';

const CACHE_LIMIT = 10_000;

export class Role {
  private readonly cache = new Map<string, Decision>();

  constructor(readonly name: string, readonly permissions: readonly Permission[]) {}

  authorize(uri: string, action: Action): Decision {
    const key = action + ' ' + uri;
    let d = this.cache.get(key);
    if (d === undefined) {
      d = authorize(this.permissions, uri, action);
      // Bounded: a client spraying random URIs must not grow the cache forever.
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, d);
    }
    return d;
  }
}
