// GET /health on the backend's own listener (and GET /api/backend/health on
// the router's app when it is mounted there, as `npm start` does: the
// router's own /health is the router's): whether this instance is attached
// to the router, which store it uses, and which machines it owns (runs the
// turns and timers of) now. 200 while attached, 503 otherwise.
import express, { type Router } from 'express';

export const HEALTH_PATH = '/health';
export const MOUNTED_HEALTH_PATH = '/api/backend/health';

export interface BackendHealth {
  status: 'ok' | 'starting' | 'stopping';
  /** This instance's id (the `owner` in machine_leases). */
  instance: string;
  store: 'sqlite' | 'postgres';
  /** Machines this instance owns now. */
  owns: string[];
}

export function healthRouter(health: () => BackendHealth, path: string): Router {
  const router = express.Router();
  router.get(path, (_req, res) => {
    const h = health();
    res.set('Cache-Control', 'no-store').status(h.status === 'ok' ? 200 : 503).json(h);
  });
  return router;
}
