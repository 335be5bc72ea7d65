#!/usr/bin/env node
// Runs the compiled CLI (npm install builds it). In a development checkout
// where the TypeScript sources are newer than the build, or there is no
// build, it runs the sources through tsx instead, so a stale dist/ never
// runs by accident.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const src = fileURLToPath(new URL('../src', import.meta.url));

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const useDist = existsSync(dist) && (!existsSync(src) || statSync(dist).mtimeMs >= newestMtime(src));
if (useDist) {
  const { main } = await import(dist);
  await main(process.argv);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli.ts');
  await main(process.argv);
}
