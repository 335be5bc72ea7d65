// Pattern subscriptions and registrations (auth/pattern-authorization.ts):
// allowed only when every URI the pattern matches is allowed. Pure; the
// same rules over real sockets are in pattern-authorization-wire.test.ts.
import t from 'tap';
import { authorizePattern, covers, shareUri, lessSpecific } from '../src/auth/pattern-authorization.js';
import { authorize, type Action, type Permission } from '../src/auth/permissions.js';
import { expandPermissions } from '../src/auth/uri-template.js';
import type { MatchPolicy } from '../src/messages/options.js';

function p(uri: string, match: MatchPolicy, allow: Partial<Record<Action, boolean>>): Permission {
  return {
    uri, match,
    allow: { call: false, register: false, publish: false, subscribe: false, ...allow },
    disclose: { caller: false, publisher: false },
  };
}
const sub = { subscribe: true };

t.test('an exact permission never covers a pattern', async (t) => {
  const perms = [p('claw.player.bob', 'exact', sub)];
  t.equal(authorize(perms, 'claw.player.bob', 'subscribe').allow, true, 'the exact topic itself is allowed');
  t.equal(authorizePattern(perms, 'claw.player.bob', 'prefix', 'subscribe').allow, false, 'prefix on it is not: it would receive claw.player.bobby');
  t.equal(authorizePattern(perms, 'claw.player.bob', 'wildcard', 'subscribe').allow, false, 'nor a wildcard without wildcard components');
  t.equal(authorizePattern(perms, 'claw.player.', 'prefix', 'subscribe').allow, false);
});

t.test('prefix patterns: covered by a prefix permission that is a prefix of them', async (t) => {
  const perms = [p('claw.player.', 'prefix', sub)];
  t.equal(authorizePattern(perms, 'claw.player.', 'prefix', 'subscribe').allow, true, 'the same prefix');
  t.equal(authorizePattern(perms, 'claw.player.bob', 'prefix', 'subscribe').allow, true, 'a longer prefix');
  t.equal(authorizePattern(perms, 'claw.play', 'prefix', 'subscribe').allow, false, 'a shorter one reaches claw.playground');
  t.equal(authorizePattern(perms, 'claw.', 'prefix', 'subscribe').allow, false);
  t.equal(authorizePattern(perms, '', 'prefix', 'subscribe').allow, false, 'everything');
  t.equal(authorizePattern([p('', 'prefix', sub)], '', 'prefix', 'subscribe').allow, true, 'an allow-all role may');
  t.equal(authorizePattern(perms, 'claw.player.', 'prefix', 'register').allow, false, 'the action must be allowed');
  const wild = [p('claw.player.', 'wildcard', sub)];
  t.equal(authorizePattern(wild, 'claw.player.', 'prefix', 'subscribe').allow, false, 'a wildcard permission matches one length only; a prefix any');
});

t.test('wildcard patterns: covered by a wildcard that subsumes them, or a prefix of their fixed head', async (t) => {
  const wild = [p('claw.machine..status', 'wildcard', sub)];
  t.equal(authorizePattern(wild, 'claw.machine..status', 'wildcard', 'subscribe').allow, true, 'the same wildcard');
  t.equal(authorizePattern(wild, 'claw.machine.m1.status', 'wildcard', 'subscribe').allow, true, 'a narrower one');
  t.equal(authorizePattern(wild, 'claw...status', 'wildcard', 'subscribe').allow, false, 'a wider one');
  t.equal(authorizePattern(wild, 'claw.machine..', 'wildcard', 'subscribe').allow, false, 'any last component');
  t.equal(authorizePattern(wild, 'claw.machine..status.x', 'wildcard', 'subscribe').allow, false, 'another length');
  const prefix = [p('claw.machine.', 'prefix', sub)];
  t.equal(authorizePattern(prefix, 'claw.machine..status', 'wildcard', 'subscribe').allow, true, 'every match starts with claw.machine.');
  t.equal(authorizePattern(prefix, 'claw.machine.m1.', 'wildcard', 'subscribe').allow, true);
  t.equal(authorizePattern(prefix, 'claw..m1.status', 'wildcard', 'subscribe').allow, false, 'claw.x.m1.status does not');
  t.equal(authorizePattern([p('claw.machine.m', 'prefix', sub)], 'claw.machine..status', 'wildcard', 'subscribe').allow, false,
    'the wildcard component may be anything, not only what starts with m');
  t.equal(authorizePattern([p('claw.machine.m1.st', 'prefix', sub)], 'claw.machine.m1.status', 'wildcard', 'subscribe').allow, true,
    'no wildcard component: one URI, inside the prefix');
  t.equal(authorizePattern([p('', 'prefix', sub)], '.x', 'wildcard', 'subscribe').allow, true);
  t.equal(authorizePattern([p('a', 'prefix', sub)], '.x', 'wildcard', 'subscribe').allow, false);
});

t.test('{authid} templates are expanded before the check', async (t) => {
  const role = [p('claw.player.{authid}', 'exact', sub), p('claw.machine.{authid}.control.', 'prefix', sub)];
  const bob = expandPermissions(role, { authid: 'bob', authrole: 'player', session: '1' });
  t.equal(authorize(bob, 'claw.player.bob', 'subscribe').allow, true);
  t.equal(authorizePattern(bob, 'claw.player.bob', 'prefix', 'subscribe').allow, false, 'exact template: no prefix');
  t.equal(authorizePattern(bob, 'claw.machine.bob.control.', 'prefix', 'subscribe').allow, true, 'prefix template covers its own');
  t.equal(authorizePattern(bob, 'claw.machine.bob.control.x', 'prefix', 'subscribe').allow, true);
  t.equal(authorizePattern(bob, 'claw.machine.bo', 'prefix', 'subscribe').allow, false);
  t.equal(authorizePattern(bob, 'claw.machine.bob.control..', 'wildcard', 'subscribe').allow, true);
});

t.test('a more specific denying permission inside the pattern refuses it', async (t) => {
  const perms = [
    p('com.app.', 'prefix', { subscribe: true, register: true }),
    p('com.app.secret', 'exact', { publish: true }),
    p('com.app.admin.', 'prefix', { call: true }),
  ];
  t.equal(authorizePattern(perms, 'com.app.', 'prefix', 'subscribe').allow, false, 'com.app.secret is not subscribable, so com.app. is not');
  t.equal(authorizePattern(perms, 'com.app.public.', 'prefix', 'subscribe').allow, true, 'a prefix that avoids both');
  t.equal(authorizePattern(perms, 'com.app.ad', 'prefix', 'register').allow, false, 'com.app.admin. overlaps com.app.ad');
  t.equal(authorizePattern(perms, 'com.app..x', 'wildcard', 'register').allow, false, 'com.app.admin.x is in it');
  t.equal(authorizePattern(perms, 'com.app..', 'wildcard', 'subscribe').allow, false, 'com.app.admin.x is in it');
  t.equal(authorizePattern(perms, 'com.app...', 'wildcard', 'subscribe').allow, false, 'com.app.admin.x.y is in it');
  t.equal(authorizePattern(perms, 'com.app.x.', 'wildcard', 'subscribe').allow, true, 'com.app.x.* touches no denying rule');
  const lessSpecificDeny = [p('', 'prefix', {}), p('claw..status', 'wildcard', {}), p('claw.', 'prefix', sub)];
  t.equal(authorizePattern(lessSpecificDeny, 'claw..status', 'wildcard', 'subscribe').allow, true,
    'denying rules less specific than the covering one never govern its URIs');
  const wildDeny = [p('claw..', 'wildcard', sub), p('claw.m1.', 'wildcard', {})];
  t.equal(authorizePattern(wildDeny, 'claw..', 'wildcard', 'subscribe').allow, false, 'a more specific wildcard denies claw.m1.*');
  t.equal(authorizePattern(wildDeny, 'claw.m2.', 'wildcard', 'subscribe').allow, true);
  const prefixBeatsWildcard = [p('claw..status', 'wildcard', sub), p('claw.', 'prefix', {})];
  t.equal(authorizePattern(prefixBeatsWildcard, 'claw..status', 'wildcard', 'subscribe').allow, false,
    'a prefix rule governs before any wildcard rule (Crossbar order), and it denies');
});

t.test('the pattern answer agrees with the per-URI answer (brute force over a small world)', async (t) => {
  // Every URI of up to 3 components over {a, ab, b}, and permission sets drawn from a pool:
  // a pattern is allowed only if authorize() allows every URI of the world it matches.
  const comps = ['a', 'ab', 'b'];
  const uris: string[] = [];
  for (const x of comps) { uris.push(x); for (const y of comps) { uris.push(`${x}.${y}`); for (const z of comps) uris.push(`${x}.${y}.${z}`); } }
  const pool: Permission[] = [
    p('a.', 'prefix', sub), p('a.a', 'prefix', {}), p('a.ab', 'exact', {}), p('a..b', 'wildcard', sub),
    p('a.b', 'exact', sub), p('', 'prefix', {}), p('.a', 'wildcard', sub), p('a..', 'wildcard', {}), p('a', 'prefix', sub),
  ];
  const patterns: Array<[string, 'prefix' | 'wildcard']> = [
    ['a.', 'prefix'], ['a.a', 'prefix'], ['a.b', 'prefix'], ['a', 'prefix'], ['', 'prefix'], ['a.ab.', 'prefix'],
    ['a..b', 'wildcard'], ['.a', 'wildcard'], ['a..', 'wildcard'], ['a.b.', 'wildcard'], ['..', 'wildcard'], ['a.b', 'wildcard'],
  ];
  const matches = (uri: string, pat: string, m: 'prefix' | 'wildcard'): boolean => {
    if (m === 'prefix') return uri.startsWith(pat);
    const a = pat.split('.'); const b = uri.split('.');
    return a.length === b.length && a.every((c, i) => c === '' || c === b[i]);
  };
  let checked = 0;
  for (let mask = 1; mask < 1 << pool.length; mask += 7) {
    const perms = pool.filter((_, i) => (mask & (1 << i)) !== 0);
    for (const [pat, m] of patterns) {
      const allowed = authorizePattern(perms, pat, m, 'subscribe').allow;
      if (!allowed) continue;
      // Sound: whatever it allows, every URI of the world it matches is allowed one by one.
      for (const u of uris) {
        if (matches(u, pat, m) && !authorize(perms, u, 'subscribe').allow) {
          t.fail(`${m} ${pat} allowed under ${JSON.stringify(perms.map((x) => [x.uri, x.match, x.allow.subscribe]))} but ${u} is not`);
        }
      }
      checked++;
    }
  }
  t.ok(checked > 50, `${checked} allowed (permission set, pattern) pairs checked`);
});

t.test('the building blocks', async (t) => {
  t.ok(covers(p('a.', 'prefix', sub), 'a.b', 'prefix'));
  t.notOk(covers(p('a.b', 'prefix', sub), 'a.', 'prefix'));
  t.ok(covers(p('a..c', 'wildcard', sub), 'a.b.c', 'wildcard'));
  t.notOk(covers(p('a.b.c', 'wildcard', sub), 'a..c', 'wildcard'));
  t.ok(shareUri(p('a.b.', 'prefix', sub), 'a.', 'prefix'), 'a longer prefix permission lies inside a shorter pattern');
  t.ok(shareUri(p('a.b.c', 'exact', sub), 'a..c', 'wildcard'));
  t.notOk(shareUri(p('a..c', 'exact', sub), 'a..c', 'wildcard'), 'an exact rule with an empty component names no URI');
  t.ok(shareUri(p('a..c', 'wildcard', sub), 'a.b.', 'wildcard'));
  t.notOk(shareUri(p('a..c', 'wildcard', sub), 'a.b.d', 'wildcard'));
  t.ok(shareUri(p('a..c', 'wildcard', sub), 'a.x', 'prefix'), 'a.xy.c');
  t.notOk(shareUri(p('a..c', 'wildcard', sub), 'a.x.d', 'prefix'));
  t.ok(lessSpecific(p('a', 'prefix', sub), 1, p('a.b', 'prefix', sub), 0));
  t.ok(lessSpecific(p('a.b', 'prefix', sub), 1, p('a.b', 'prefix', sub), 0), 'the same rule listed later never governs');
  t.ok(lessSpecific(p('a..', 'wildcard', sub), 0, p('a.b.', 'wildcard', sub), 1));
  t.ok(lessSpecific(p('a.b.c', 'wildcard', sub), 0, p('a', 'prefix', sub), 1), 'prefix before wildcard');
});
