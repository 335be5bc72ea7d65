// docs/architecture.md's file map is the newcomer's index of the router:
// it must list exactly the files in router/src and router/bin, each once,
// so a file added, moved or removed without the map fails here.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROUTER = fileURLToPath(new URL('..', import.meta.url));
const DOC = fileURLToPath(new URL('../../docs/architecture.md', import.meta.url));

function files(dir: string): string[] {
  return fs.readdirSync(path.join(ROUTER, dir), { withFileTypes: true }).flatMap((e) => {
    const p = path.posix.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

/** The paths in the first column of the table under "## File map (`router/`)". */
function mapped(markdown: string): string[] {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('File map (`router/`)'));
  if (section === undefined) throw new Error('docs/architecture.md has no "## File map (`router/`)" section');
  return section.split('\n').flatMap((line) => {
    const first = /^\|\s*([^|]*)\|/.exec(line)?.[1] ?? '';
    return [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  });
}

t.test('the file map lists every file of router/src and router/bin, once, and nothing else', async (t) => {
  const listed = mapped(fs.readFileSync(DOC, 'utf8'));
  const actual = [...files('src'), ...files('bin')].sort();
  t.ok(actual.length > 50, `found the router's files (${actual.length})`);
  const twice = listed.filter((p, i) => listed.indexOf(p) !== i);
  t.same(twice, [], 'no file is listed twice');
  t.same(actual.filter((f) => !listed.includes(f)), [], 'every file is in the map');
  t.same(listed.filter((f) => !actual.includes(f)), [], 'the map names no file that does not exist');
});
