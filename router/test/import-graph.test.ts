// The router's layering, checked on its import graph (type-only imports
// count: they are a dependency of the design even when the emitted code
// drops them):
// - no import cycle between files under router/src;
// - no two folders import each other (a file directly in src/ counts as its own node);
// - the routing code (broker/, dealer/, meta/, routing/) imports neither
//   session/ nor realm/: it knows sessions and realms only as the
//   contracts in routing/peer.ts and routing/realm-context.ts.
// The graph comes from TypeScript's own import scanner (ts.preProcessFile),
// which the repository already has: no dependency for a few lines.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** File (relative to src/) → the files under src/ it imports or re-exports from. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, false);
    const deps = importedFiles
      .map((f) => f.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => path.relative(SRC, path.resolve(path.dirname(file), name.replace(/\.js$/, '.ts'))));
    graph.set(path.relative(SRC, file), deps);
  }
  return graph;
}

/** The cycles of `graph`: its strongly connected components of more than one node, or a node importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The folder a file is in (`broker`), or the file itself when it is directly in src/. */
const unit = (file: string): string => (file.includes(path.sep) ? file.split(path.sep)[0]! : file);

function folderGraph(graph: Map<string, string[]>): Map<string, string[]> {
  const folders = new Map<string, Set<string>>();
  for (const [file, deps] of graph) {
    const from = unit(file);
    const set = folders.get(from) ?? new Set<string>();
    folders.set(from, set);
    for (const d of deps) if (unit(d) !== from) set.add(unit(d));
  }
  return new Map([...folders].map(([k, v]) => [k, [...v]]));
}

t.test('the cycle finder finds cycles (so the checks below can fail)', async (t) => {
  t.same(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  t.same(cycles(new Map([['a', ['a']]])), [['a']]);
  t.same(cycles(new Map([['a', ['b']], ['b', []]])), []);
});

t.test('no import cycle under router/src', async (t) => {
  const graph = importGraph();
  t.ok(graph.size > 50, `the graph has the router's files (${graph.size})`);
  t.ok(graph.get(path.join('broker', 'broker.ts'))!.includes(path.join('routing', 'peer.ts')), 'type-only imports are in the graph');
  t.same(cycles(graph), [], 'no file imports itself through others');
});

t.test('no two folders of router/src import each other', async (t) => {
  t.same(cycles(folderGraph(importGraph())), []);
});

t.test('broker, dealer, meta API and routing know sessions and realms only by their contracts', async (t) => {
  const graph = importGraph();
  const routing = ['broker', 'dealer', 'meta', 'routing'];
  const offending = [...graph].flatMap(([file, deps]) => routing.includes(unit(file))
    ? deps.filter((d) => unit(d) === 'session' || unit(d) === 'realm').map((d) => `${file} → ${d}`)
    : []);
  t.same(offending, []);
});
