// In a development checkout the page's bundle must match its sources: a
// stale dist/public would show yesterday's page. When any source of the page
// (web-client/page, web-client/src/logic, @clawgate/protocol's sources) is
// newer than the bundle, or the bundle is missing, it is rebuilt with the web
// client's own script (esbuild, a dev dependency). An installed package
// without the sources or esbuild serves what it has.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publicDir } from '@clawgate/web-client';

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

function packageRoot(name: string): string | undefined {
  try {
    return dirname(dirname(fileURLToPath(import.meta.resolve(name))));
  } catch {
    return undefined;
  }
}

/** True when the bundle is missing or older than a source it is built from. */
export function bundleIsStale(webRoot: string, protocolRoot: string | undefined): boolean {
  const outputs = ['index.html', 'operator.html', 'assets/player.js', 'assets/operator.js', 'assets/style.css'].map((f) => join(publicDir, f));
  if (!outputs.every((f) => existsSync(f))) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const sources = [join(webRoot, 'page'), join(webRoot, 'src', 'logic'), join(webRoot, 'scripts', 'bundle.js')];
  if (protocolRoot) sources.push(join(protocolRoot, 'src'));
  return Math.max(...sources.map(newestMtime)) > built;
}

export async function ensureWebBundle(warn: (message: string) => void): Promise<void> {
  const webRoot = dirname(dirname(publicDir));
  const script = join(webRoot, 'scripts', 'bundle.js');
  if (!existsSync(join(webRoot, 'page')) || !existsSync(script)) {
    if (!existsSync(join(publicDir, 'index.html'))) warn(`the web client is not built (${publicDir} is empty) and its sources are not here`);
    return;
  }
  if (!bundleIsStale(webRoot, packageRoot('@clawgate/protocol'))) return;
  try {
    createRequire(script).resolve('esbuild');
  } catch {
    warn('the web client bundle is older than its sources, and esbuild (a dev dependency) is not installed to rebuild it');
    return;
  }
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [script], { cwd: webRoot, timeout: 120_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`building the web client failed: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}
