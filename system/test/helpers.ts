// Fixtures for the launcher and browser tests: the system started the way
// README says (`node system/bin/clawgate.js`, here on a free port with a temp
// data dir and short timings), real headless Chromium through playwright-core,
// and a Node spectator (autobahn over ws) that watches a machine's `lines`.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { LinesPayload } from '@clawgate/protocol';
import { killGroupOnExit } from '../../router/test/helpers.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'system', 'bin', 'clawgate.js');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const DOC_IMAGES = join(ROOT, 'docs', 'img');

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** Polls until `fn` returns something truthy; the error says what was awaited. */
export async function eventually<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'clawgate-system-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Short timings so a whole turn takes seconds, with generous windows for a loaded machine. */
export const FAST_OVERRIDES = {
  backend: {
    defaults: { moveSeconds: 20, readyWindowSeconds: 30, graceSeconds: 60 },
    rateLimit: { calls: 1000, perSeconds: 1 },
  },
  claw: {
    timings: { dropCycleSeconds: 2.5, prizeWindowSeconds: 1 },
    simulator: { speed: 0.8, lowerMs: 300, grabMs: 100, raiseMs: 300, releaseMs: 100 },
  },
};

export interface Launched {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  operatorSecret: string;
  /** What the launcher printed so far (past 1 MiB: the first and the last 512 KiB, see Output). */
  stdout(): string;
  stderr(): string;
  /** Bytes printed so far on stdout plus stderr (all of them, also those not kept). */
  outputBytes(): number;
  /** SIGINT to the launcher's process group (what Ctrl-C in a terminal does); resolves with the exit code. */
  interrupt(): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface LaunchOptions {
  dataDir: string;
  args?: string[];
  overrides?: unknown;
  timeoutMs?: number;
  logLevel?: string;
  /** Node options for the system's processes (NODE_OPTIONS reaches the launcher's child too). */
  nodeOptions?: string[];
}

/**
 * A launcher's stdout or stderr: every byte counted, the text kept up to
 * 1 MiB, and past that the first and the last 512 KiB (a flood of log lines
 * must not fill the test's own memory; the banner and the last words stay).
 */
class Output {
  private static readonly KEEP = 512 * 1024;
  bytes = 0;
  private head = '';
  private tail: string[] = [];
  private tailLength = 0;
  add(d: Buffer): void {
    this.bytes += d.length;
    const s = d.toString();
    if (this.head.length < Output.KEEP) {
      const room = Output.KEEP - this.head.length;
      this.head += s.slice(0, room);
      if (s.length <= room) return;
      this.push(s.slice(room));
    } else {
      this.push(s);
    }
  }
  private push(s: string): void {
    this.tail.push(s);
    this.tailLength += s.length;
    while (this.tailLength - this.tail[0]!.length >= Output.KEEP) this.tailLength -= this.tail.shift()!.length;
  }
  text(): string {
    const tail = this.tail.join('');
    const dropped = this.bytes > Buffer.byteLength(this.head) + Buffer.byteLength(tail);
    return dropped ? `${this.head}\n[… output not kept …]\n${tail.slice(-Output.KEEP)}` : this.head + tail;
  }
}

/** Starts `node system/bin/clawgate.js --port 0 …` and waits for the printed URL. */
export async function launch(t: { teardown(fn: () => void | Promise<void>): void; passing?(): boolean }, o: LaunchOptions): Promise<Launched> {
  // Logs are kept in memory and printed only when the test failed (info by
  // default, for the browser tests; the launcher test checks the console as a user sees it).
  const args = [BIN, '--port', '0', '--data', o.dataDir, '--log-level', o.logLevel ?? process.env.CLAWGATE_E2E_LOG_LEVEL ?? 'info', ...(o.args ?? [])];
  if (o.overrides !== undefined) {
    const file = join(o.dataDir, '..', `overrides-${process.pid}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(o.overrides));
    args.push('--overrides', file);
  }
  // Own process group: the launcher may re-run itself from source in a child, and
  // a signal to the group reaches both, as a terminal's Ctrl-C would.
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', ...(o.nodeOptions ?? [])].join(' ').trim();
  const proc = spawn(process.execPath, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: '', ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) } });
  killGroupOnExit(proc);
  const out = new Output();
  const err = new Output();
  proc.stdout!.on('data', (d: Buffer) => out.add(d));
  proc.stderr!.on('data', (d: Buffer) => err.add(d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => { done = true; });
  t.teardown(async () => {
    if (t.passing?.() === false) process.stderr.write(`--- launcher output (test failed) ---\n${out.text().slice(-200_000)}\n${err.text().slice(-200_000)}\n---\n`);
    if (done) return;
    try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ }
    await exited;
  });
  const url = await eventually(() => {
    if (done) throw new Error(`launcher exited early:\n${out.text()}\n${err.text()}`);
    return /ClawGate is running: (http:\/\/\S+)/.exec(out.text())?.[1];
  }, o.timeoutMs ?? 60_000, 'the launcher to print its URL');
  const wsUrl = /WAMP\s+(ws:\/\/\S+)/.exec(out.text())?.[1] ?? '';
  const operatorSecret = /secret "([^"]+)"/.exec(out.text())?.[1] ?? '';
  return {
    proc, url, wsUrl, operatorSecret, exited,
    stdout: () => out.text(),
    stderr: () => err.text(),
    outputBytes: () => out.bytes + err.bytes,
    interrupt: async () => {
      try { process.kill(-proc.pid!, 'SIGINT'); } catch { /* gone */ }
      return exited;
    },
  };
}

// ---- browser ------------------------------------------------------------------

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];

/** Debian's Chromium with a fresh profile (playwright gives every launch its own temp user-data-dir). */
export async function launchBrowser(t: { teardown(fn: () => Promise<void>): void }): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_FLAGS, timeout: 60_000 });
  t.teardown(() => browser.close());
  return browser;
}

export interface PageLog { errors: string[] }

/** A 360 px wide phone with a touch screen. */
export const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };

/** A page in its own context (own cookies and localStorage: a separate person). */
export async function newPage(browser: Browser, viewport = { width: 1100, height: 900 }, device: { isMobile?: boolean; hasTouch?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; log: PageLog }> {
  const context = await browser.newContext({ viewport, ...device });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const log: PageLog = { errors: [] };
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push(`console: ${m.text()}`); });
  return { context, page, log };
}

/** Picks a name on the player page and waits until it is connected as that player. */
export async function signIn(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.fill('#name', name);
  await page.click('#name-submit');
  await page.waitForSelector('#who:not([hidden])');
  await page.locator('#conn.ok').waitFor();
  await page.locator('#join:enabled').waitFor();
}

export const visible = (page: Page, selector: string, timeout = 30_000) => page.waitForSelector(`${selector}:not([hidden])`, { state: 'visible', timeout });

/**
 * Saves a screenshot to test-artifacts/. With UPDATE_SCREENSHOTS=1 it also
 * refreshes the committed copy in docs/img/ that README shows; a plain test
 * run never changes tracked files.
 */
export async function screenshot(page: Page, name: string, copyToDocs = process.env.UPDATE_SCREENSHOTS === '1'): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  if (copyToDocs) {
    mkdirSync(DOC_IMAGES, { recursive: true });
    copyFileSync(path, join(DOC_IMAGES, `${name}.png`));
  }
  return path;
}

/** Touches the middle of `selector` with a finger (real touch events through DevTools) and keeps it there. */
export async function touchDown(page: Page, selector: string): Promise<() => Promise<void>> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  const cdp = await page.context().newCDPSession(page);
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
  return async () => {
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.detach();
  };
}

// ---- a Node spectator ------------------------------------------------------------

(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
const require = createRequire(import.meta.url);
interface AbSession { subscribe(topic: string, h: (args: unknown[] | undefined) => void, o?: Record<string, unknown>): Promise<unknown>; call(p: string, a?: unknown[]): Promise<unknown> }
interface AbConnection { onopen: (s: AbSession) => void; onclose: (reason: string, d: { reason?: string; message?: string }) => boolean; open(): void; close(): void }
const autobahn = require('autobahn') as { Connection: new (o: Record<string, unknown>) => AbConnection };

export interface Spectator { lines: { at: number; payload: LinesPayload }[]; session: AbSession; close(): Promise<void> }

/** An anonymous spectator (role `spectator`) recording every `lines` event of `machine`. */
export async function spectate(t: { teardown(fn: () => Promise<void>): void }, wsUrl: string, machine: string): Promise<Spectator> {
  const lines: Spectator['lines'] = [];
  let closed!: () => void;
  const gone = new Promise<void>((r) => { closed = r; });
  const connection = new autobahn.Connection({ url: wsUrl, realm: 'claw', max_retries: 0, retry_if_unreachable: false });
  const session = await new Promise<AbSession>((resolve, reject) => {
    connection.onopen = resolve;
    connection.onclose = (reason, d) => { closed(); reject(new Error(`spectator closed: ${reason} ${d?.reason ?? ''}`)); return true; };
    connection.open();
  });
  await session.subscribe(`claw.machine.${machine}.lines`, (args) => { lines.push({ at: Date.now(), payload: args?.[0] as LinesPayload }); }, { get_retained: true });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => { try { connection.close(); } catch { /* closed */ } await Promise.race([gone, sleep(2000)]); })());
  t.teardown(close);
  return { lines, session, close };
}
