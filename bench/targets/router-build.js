// Our router's CLI from a private tsc build of router/src (made by run.js in a
// temporary directory, see --router build), so a stale router/dist is never
// measured and profiles map back to router/src through tsc's source maps.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.CLAWGATE_BENCH_ROUTER_BUILD;
if (!dir) throw new Error('CLAWGATE_BENCH_ROUTER_BUILD is not set (run through bench/run.js)');
const { main } = await import(pathToFileURL(path.join(dir, 'cli.js')).href);
await main(process.argv);
