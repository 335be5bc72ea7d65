// Crossbar's plain web resources on web/universal listeners: `static`
// (files from a directory), `json` (a fixed JSON value), `redirect` and
// `nodeinfo`. Nearly every Crossbar example serves its page this way, beside
// the WAMP endpoint. Parsed from the config into plain data here, served by
// WebResources on the router's express app after the HTTP bridge paths.
//
// Files are served by express.static (serve-static/send): it refuses paths
// that climb out of the directory (`..`, encoded or not) and NUL bytes, never
// serves dotfiles, answers only GET and HEAD, and sets ETag/Last-Modified, so
// none of that is written here.
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { ConfigError } from '../config-error.js';
import { unknownKeys } from '../unknown-keys.js';
import { listenersOf } from './http-paths.js';

export const WEB_RESOURCE_TYPES = ['static', 'json', 'redirect', 'nodeinfo'] as const;
export type WebResourceType = (typeof WEB_RESOURCE_TYPES)[number];

export function isWebResourceType(t: string): t is WebResourceType {
  return (WEB_RESOURCE_TYPES as readonly string[]).includes(t);
}

interface Base {
  /** Listener (transport) id the path is served on. */
  listener: string;
  /** Request path, with a leading '/'. */
  path: string;
}

export interface StaticResourceConfig extends Base {
  type: 'static';
  /** Absolute path of the directory served (the path and everything below it). */
  directory: string;
  /** Cache-Control max-age in seconds (Crossbar's `cache_timeout`; default 12 hours, as Crossbar). */
  cacheTimeoutS: number;
  /** Extension (with the dot) → Content-Type, over the built-in table. */
  mimeTypes: Record<string, string>;
}

export interface JsonResourceConfig extends Base {
  type: 'json';
  /** The JSON text served, encoded once at start. */
  body: string;
  allowCrossOrigin: boolean;
  discourageCaching: boolean;
}

export interface RedirectResourceConfig extends Base {
  type: 'redirect';
  url: string;
}

export interface NodeInfoResourceConfig extends Base {
  type: 'nodeinfo';
}

export type WebResourceConfig = StaticResourceConfig | JsonResourceConfig | RedirectResourceConfig | NodeInfoResourceConfig;

/** Crossbar's default `cache_timeout` for static files: 12 hours. */
export const DEFAULT_STATIC_CACHE_S = 12 * 3600;

const Static = z.object({
  type: z.literal('static'),
  directory: z.string().min(1).optional(),
  package: z.string().optional(),
  resource: z.string().optional(),
  options: z.object({
    enable_directory_listing: z.boolean().optional(),
    mime_types: z.record(z.string(), z.string()).optional(),
    cache_timeout: z.number().int().min(0).nullable().optional(),
  }).passthrough().optional(),
}).passthrough();
const Json = z.object({
  type: z.literal('json'),
  value: z.unknown(),
  options: z.object({ prettify: z.boolean().optional(), allow_cross_origin: z.boolean().optional(), discourage_caching: z.boolean().optional() }).passthrough().optional(),
}).passthrough();
const Redirect = z.object({ type: z.literal('redirect'), url: z.string().min(1) }).passthrough();
const NodeInfo = z.object({ type: z.literal('nodeinfo') }).passthrough();

function parse<T>(schema: z.ZodType<T>, raw: unknown, at: string): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ConfigError(`invalid config at ${at}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
}

/**
 * One `paths` entry of a web resource type, or undefined when it is skipped
 * (named in `warnings`). A relative `directory` is relative to `baseDir` (the
 * config file's folder, as Crossbar's is relative to its node directory); a
 * directory that does not exist stops the start naming the key.
 */
export function webResource(raw: unknown, listener: string, path: string, at: string, warnings: string[], baseDir: string | undefined): WebResourceConfig | undefined {
  const type = (raw as { type: WebResourceType }).type;
  switch (type) {
    case 'static': {
      const e = parse(Static, raw, at);
      unknownKeys(e, ['type', 'directory', 'package', 'resource', 'options'], at, warnings);
      const o = e.options ?? {};
      unknownKeys(o, ['enable_directory_listing', 'mime_types', 'cache_timeout'], `${at}.options`, warnings);
      if (e.directory === undefined) {
        // Python package resources belong to Crossbar's own process.
        if (e.package !== undefined) { warnings.push(`${at} (static files from Python package "${e.package}")`); return undefined; }
        throw new ConfigError(`invalid config at ${at}.directory: a static path needs a directory`);
      }
      if (o.enable_directory_listing === true) warnings.push(`${at}.options.enable_directory_listing (directories are not listed)`);
      const directory = isAbsolute(e.directory) ? e.directory : resolve(baseDir ?? process.cwd(), e.directory);
      // Crossbar starts with a directory that does not exist yet (some of its own examples point at
      // one) and answers 404 until it does; so do we, with a warning. A file where the directory
      // should be is a mistake, not a directory to come.
      if (!existsSync(directory)) warnings.push(`${at}.directory (${directory} does not exist: 404 until it does)`);
      else if (!statSync(directory).isDirectory()) throw new ConfigError(`invalid config at ${at}.directory: ${directory} is not a directory`);
      const mimeTypes: Record<string, string> = {};
      for (const [ext, mime] of Object.entries(o.mime_types ?? {})) mimeTypes[ext.startsWith('.') ? ext.toLowerCase() : `.${ext.toLowerCase()}`] = mime;
      return { type, listener, path, directory, cacheTimeoutS: o.cache_timeout ?? DEFAULT_STATIC_CACHE_S, mimeTypes };
    }
    case 'json': {
      const e = parse(Json, raw, at);
      unknownKeys(e, ['type', 'value', 'options'], at, warnings);
      const o = e.options ?? {};
      unknownKeys(o, ['prettify', 'allow_cross_origin', 'discourage_caching'], `${at}.options`, warnings);
      const body = JSON.stringify(e.value ?? null, null, o.prettify === true ? 2 : undefined);
      return { type, listener, path, body, allowCrossOrigin: o.allow_cross_origin ?? false, discourageCaching: o.discourage_caching ?? false };
    }
    case 'redirect': {
      const e = parse(Redirect, raw, at);
      unknownKeys(e, ['type', 'url'], at, warnings);
      return { type, listener, path, url: e.url };
    }
    case 'nodeinfo': {
      const e = parse(NodeInfo, raw, at);
      unknownKeys(e, ['type'], at, warnings);
      return { type, listener, path };
    }
  }
}

/** What the resources need from the router. */
export interface WebResourceHost {
  /** Bound port per listener id. */
  ports(): Record<string, number>;
  /** Facts for the nodeinfo page. */
  nodeInfo(): { realms: number; sessions: number };
}

type Serve = (req: Request, res: Response, next: NextFunction) => void;

/** Whether `path` (a request path) is `prefix` or below it. */
export function underPath(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

function staticServe(c: StaticResourceConfig): Serve {
  const files = express.static(c.directory, {
    index: ['index.html'],
    maxAge: c.cacheTimeoutS * 1000,
    dotfiles: 'ignore',
    fallthrough: true,
    redirect: true,
    setHeaders: (res, file) => {
      const dot = file.lastIndexOf('.');
      const mime = dot === -1 ? undefined : c.mimeTypes[file.slice(dot).toLowerCase()];
      if (mime !== undefined) res.setHeader('content-type', mime);
    },
  });
  return (req, res, next) => {
    // Serve the part of the URL below the mount point, as express's app.use(path, ...) would.
    const url = req.url;
    if (c.path !== '/') req.url = url.slice(c.path.replace(/\/$/, '').length) || '/';
    files(req, res, (err?: unknown) => { req.url = url; next(err); });
  };
}

function exactServe(c: JsonResourceConfig | RedirectResourceConfig | NodeInfoResourceConfig, host: WebResourceHost): Serve {
  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') { next(); return; }
    switch (c.type) {
      case 'json':
        if (c.allowCrossOrigin) res.set('access-control-allow-origin', '*');
        if (c.discourageCaching) res.set('cache-control', 'no-store');
        res.type('application/json').send(c.body);
        return;
      case 'redirect':
        res.redirect(302, c.url);
        return;
      case 'nodeinfo': {
        // Counts only: no names, addresses or versions a scanner could use.
        const i = host.nodeInfo();
        res.set('cache-control', 'no-store').type('text/html')
          .send(`<!doctype html><html><head><meta charset="utf-8"><title>ClawGate</title></head><body><h1>ClawGate WAMP router</h1><p>${i.realms} realm(s), ${i.sessions} session(s).</p></body></html>\n`);
        return;
      }
    }
  };
}

/** The configured web resources, matched by the listener a request came in on, then by path. */
export class WebResources {
  /** listener id → entries, exact paths first, then static mounts longest first */
  private readonly byListener = new Map<string, { config: WebResourceConfig; serve: Serve }[]>();

  constructor(private readonly host: WebResourceHost, resources: readonly WebResourceConfig[]) {
    for (const c of resources) {
      let list = this.byListener.get(c.listener);
      if (list === undefined) { list = []; this.byListener.set(c.listener, list); }
      if (list.some((x) => x.config.path === c.path)) throw new Error(`listener "${c.listener}" has two web resources at ${c.path}`);
      list.push({ config: c, serve: c.type === 'static' ? staticServe(c) : exactServe(c, host) });
    }
    for (const list of this.byListener.values()) {
      list.sort((a, b) => Number(a.config.type === 'static') - Number(b.config.type === 'static') || b.config.path.length - a.config.path.length);
    }
  }

  readonly middleware: RequestHandler = (req: Request, res: Response, next: NextFunction): void => {
    if (this.byListener.size === 0) { next(); return; }
    for (const id of listenersOf(req, this.host)) {
      const hit = this.byListener.get(id)?.find((e) => (e.config.type === 'static' ? underPath(req.path, e.config.path) : req.path === e.config.path));
      if (hit !== undefined) { hit.serve(req, res, next); return; }
    }
    next();
  };
}
