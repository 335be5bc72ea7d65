// Serving the built assets. The page learns its per-deployment settings
// (WAMP path, realm, video URLs) from `/client-config.json`, so one build
// works behind any reverse proxy and on any port.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { REALM } from '@clawgate/protocol';

/** Where `npm run build` puts the bundle (the same path from src/ and dist/). */
export const publicDir = fileURLToPath(new URL('../dist/public', import.meta.url));

export interface WebClientOptions {
  /** Directory with index.html, operator.html and the bundles (default: this package's build). */
  dir?: string;
  /** WebSocket path of the WAMP endpoint on the same origin (default `/ws`). */
  wsPath?: string;
  realm?: string;
  /** Video stream URL per machine id (real cabinets; the simulator is drawn from `lines`). */
  videoUrls?: Record<string, string>;
}

/** The configuration the page fetches at start. */
export interface ClientConfig {
  wsPath: string;
  realm: string;
  videoUrls: Record<string, string>;
}

// The page talks only to its own origin; video may come from a camera server elsewhere.
const CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data: http: https:",
  'media-src http: https: blob:',
  'frame-src http: https:',
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function webClient(options: WebClientOptions = {}): Router {
  const dir = options.dir ?? publicDir;
  const config: ClientConfig = { wsPath: options.wsPath ?? '/ws', realm: options.realm ?? REALM, videoUrls: options.videoUrls ?? {} };
  const router = express.Router();

  router.use((_req, res, next) => {
    res.set('Content-Security-Policy', CSP);
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Referrer-Policy', 'same-origin');
    next();
  });

  router.get('/client-config.json', (_req, res) => {
    res.set('Cache-Control', 'no-store').json(config);
  });

  const page = (file: string) => (_req: express.Request, res: express.Response) => {
    const path = join(dir, file);
    if (!existsSync(path)) {
      res.status(503).type('text/plain').send('The web client is not built. Run `npm run build -w web-client` (npm install does it).\n');
      return;
    }
    res.set('Cache-Control', 'no-cache').sendFile(path);
  };
  router.get('/', page('index.html'));
  router.get(['/operator', '/operator/'], page('operator.html'));

  // Bundles and styles; names are fixed, so clients revalidate (ETag) instead of caching blindly.
  router.use('/assets', express.static(join(dir, 'assets'), { index: false, fallthrough: true, setHeaders: (res) => res.set('Cache-Control', 'no-cache') }));
  return router;
}
