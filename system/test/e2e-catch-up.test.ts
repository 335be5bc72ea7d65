// Catch-up from the router's event history (issue 20), in real headless
// Chromium against the whole system: a player page whose connection is cut
// from just after its drop until after the turn's result was published shows
// that result once it is back (without the history it could only say that
// the turn ended while it was away); pages opened after a turn show it in
// their recent turns at once: the player page's recent events, and the
// dashboard's turns table, which here can come only from the history (this
// system's operator may not call claw.admin.turns, as with a backend without
// it). Then the persistent subscription (issue 22): the player's second turn
// ends while her page is cut off, and a page of hers opened afterwards (a new
// tab, as a reload) shows its result, which the history cannot tell from an
// older one to a page that just opened: only the router's persistent
// subscription kept it for her.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page, WebSocketRoute } from 'playwright-core';
import { loadClawRouterConfig } from '@clawgate/backend';
import type { EventPayload } from '@clawgate/protocol';
import { FAST_OVERRIDES, eventually, launch, launchBrowser, newPage, signIn, sleep, spectate, tempDir, visible } from './helpers.js';
import { signInOperator } from './page-helpers.js';

t.setTimeout(120_000);

const require = createRequire(import.meta.url);
interface AbSession {
  call(p: string, a?: unknown[], kw?: Record<string, unknown>): Promise<unknown>;
  subscribe(topic: string, h: (args: unknown[] | undefined) => void, o?: Record<string, unknown>): Promise<{ id: number }>;
}
interface AbConnection { onopen: (s: AbSession) => void; onclose: (reason: string, d: { reason?: string }) => boolean; open(): void; close(): void }
const autobahn = require('autobahn') as { Connection: new (o: Record<string, unknown>) => AbConnection };

/** A guest player in Node (autobahn over ws, as the page logs in): POST /api/session, then the ticket. */
async function nodePlayer(t: { teardown(fn: () => void): void }, url: string, wsUrl: string, name: string): Promise<{ authid: string; session: AbSession }> {
  const res = await fetch(`${url}api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  const { authid, ticket } = await res.json() as { authid: string; ticket: string };
  const connection = new autobahn.Connection({ url: wsUrl, realm: 'claw', max_retries: 0, retry_if_unreachable: false, authmethods: ['ticket'], authid, onchallenge: () => ticket });
  const session = await new Promise<AbSession>((resolve, reject) => {
    connection.onopen = resolve;
    connection.onclose = (reason, d) => { reject(new Error(`${name}: ${reason} ${d?.reason ?? ''}`)); return true; };
    connection.open();
  });
  t.teardown(() => { try { connection.close(); } catch { /* closed */ } });
  return { authid, session };
}

const errorOf = (p: Promise<unknown>) => p.then(() => 'no error', (e: { error?: string }) => e.error ?? String(e));

type Json = Record<string, unknown>;

/** config/claw-router.yaml with claw.admin.turns refused to operators (an exact rule wins over their claw.admin. prefix). */
function configWithoutAdminTurns(dir: string): string {
  const raw = loadClawRouterConfig() as Json;
  const realm = ((raw.workers as Json[])[0]!.realms as Json[])[0]!;
  const operator = (realm.roles as Json[]).find((r) => r.name === 'operator')!;
  (operator.permissions as Json[]).push({ uri: 'claw.admin.turns', match: 'exact', allow: { call: false } });
  const file = join(dir, 'claw-router.json');
  writeFileSync(file, JSON.stringify(raw));
  return file;
}

/**
 * The page's WebSockets through playwright's route, so the test can cut the
 * network: `down()` closes the open ones (both sides: the router sees the
 * session go) and closes every new one at once; `up()` lets them through and
 * tells the page it is online again, as the browser does when a network
 * comes back.
 */
async function cuttableNetwork(page: Page): Promise<{ down(): Promise<void>; up(): Promise<void> }> {
  let isDown = false;
  const open = new Set<{ page: WebSocketRoute; server: WebSocketRoute }>();
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (isDown) { void ws.close({ code: 4000, reason: 'network down (test)' }); return; }
    open.add({ page: ws, server: ws.connectToServer() });
  });
  return {
    down: async () => {
      isDown = true;
      for (const c of open) {
        await c.server.close().catch(() => undefined);
        await c.page.close({ code: 4000, reason: 'network down (test)' }).catch(() => undefined);
      }
      open.clear();
    },
    up: async () => {
      isDown = false;
      await page.evaluate("window.dispatchEvent(new Event('online'))");
    },
  };
}

t.test('catch-up: a result published while the page was offline; recent turns at load', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: FAST_OVERRIDES, args: ['--router-config', configWithoutAdminTurns(dir)] });
  const spectator = await spectate(t, system.wsUrl, 'claw-1');
  const events: { at: number; event: EventPayload }[] = [];
  await spectator.session.subscribe('claw.machine.claw-1.events', (args) => { events.push({ at: Date.now(), event: args?.[0] as EventPayload }); });
  const browser = await launchBrowser(t);
  const ann = await newPage(browser);
  const network = await cuttableNetwork(ann.page);

  await signIn(ann.page, system.url, 'Ann');
  await ann.page.click('#join');
  await visible(ann.page, '#phase-get_ready');
  await ann.page.click('#ready');
  await visible(ann.page, '#phase-playing');

  // Drop, and cut Ann's connection as soon as the machine has the drop: the result comes seconds later.
  const fromDrop = spectator.lines.length;
  await ann.page.keyboard.press('Space');
  await eventually(() => spectator.lines.slice(fromDrop).some((l) => l.payload.outputs.drop), 15_000, 'the drop line to pulse');
  await network.down();
  const cutAt = Date.now();
  await ann.page.locator('#conn.bad').waitFor({ timeout: 10_000 });
  const ended = await eventually(() => events.find((e) => e.event.type === 'turn_ended'), 30_000, 'the turn to end');
  t.ok(ended.at > cutAt, 'the result was published while Ann was offline');
  t.match(ended.event.result, /^(win|lose)$/, 'the machine decided the turn (within the turn grace)');
  // Long enough for the backend to have sent Ann her result (to nobody) before she is back.
  await sleep(1500);
  t.ok(await ann.page.locator('#phase-result').isHidden(), 'offline, the page does not know the result yet');

  await network.up();
  await ann.page.locator('#conn.ok').waitFor({ timeout: 30_000 });
  await visible(ann.page, '#phase-result', 20_000);
  t.equal(await ann.page.textContent('#result-title'), ended.event.result === 'win' ? 'You won!' : 'No prize this time', 'the result she missed is shown');
  t.ok(await ann.page.locator('#phase-removed').isHidden(), 'not "your turn ended while you were away"');

  // Opened after the turn: the player page's recent events have it at once.
  const bo = await newPage(browser);
  await bo.page.goto(system.url);
  await bo.page.locator('#events li', { hasText: `Ann: ${ended.event.result}` }).waitFor({ timeout: 15_000 });
  t.same(await bo.page.locator('#events li').allTextContents(), [`Ann: ${ended.event.result}`, 'Ann started a turn'], 'the recent events, newest first, once each');

  // The dashboard opened after the turn: its table from the history (claw.admin.turns is refused here).
  const op = await newPage(browser, { width: 1200, height: 820 });
  await signInOperator(op.page, system.url, system.operatorSecret);
  const row = op.page.locator('#turns tr', { hasText: 'Ann' });
  await row.first().waitFor({ timeout: 15_000 });
  t.equal(await row.count(), 1, 'one row for the turn (its start and end from the history)');
  t.match(await row.first().textContent(), new RegExp(`claw-1Ann${ended.event.result}$`), 'with the machine and the result');

  t.same([...ann.log.errors, ...bo.log.errors], [], 'no errors in the players\' pages');

  // Persistent subscription: Ann plays again, and her page is cut off from just after the drop.
  const fromSecond = events.length;
  await ann.page.click('#again');
  await visible(ann.page, '#phase-get_ready');
  await ann.page.click('#ready');
  await visible(ann.page, '#phase-playing');
  const fromDrop2 = spectator.lines.length;
  await ann.page.keyboard.press('Space');
  await eventually(() => spectator.lines.slice(fromDrop2).some((l) => l.payload.outputs.drop), 15_000, 'the second drop line to pulse');
  await network.down();
  const cut2 = Date.now();
  const second = await eventually(() => events.slice(fromSecond).find((e) => e.event.type === 'turn_ended'), 30_000, 'the second turn to end');
  t.ok(second.at > cut2, 'the second result was published while no page of Ann was connected');
  await sleep(1500);
  // A page of hers opened now (same browser: her name and authid) is the first page of her identity: the history
  // alone would only tell it where it stands. The router kept the result for her persistent subscription.
  const again = await ann.context.newPage();
  const againErrors: string[] = [];
  again.on('pageerror', (e) => againErrors.push(`pageerror: ${e.message}`));
  again.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') againErrors.push(`console: ${m.text()}`); });
  await again.goto(system.url);
  await visible(again, '#phase-result', 20_000);
  t.equal(await again.textContent('#result-title'), second.event.result === 'win' ? 'You won!' : 'No prize this time', 'the result kept while she had no page is shown');
  t.ok(await again.locator('#phase-removed').isHidden(), 'not "your turn ended while you were away"');
  t.same(againErrors, [], 'no errors or warnings (the persistent subscription was taken)');

  // A player's history is hers alone: get_events takes any subscription id, and the router checks
  // the reader's own subscribe permission on its topic (config/claw-router.yaml's permissions).
  const cy = await nodePlayer(t, system.url, system.wsUrl, 'Cy');
  const dee = await nodePlayer(t, system.url, system.wsUrl, 'Dee');
  const cyTopic = await cy.session.subscribe(`claw.player.${cy.authid}`, () => undefined);
  await cy.session.call('claw.queue.request_slot', ['claw-1']);
  const own = await eventually(async () => {
    const list = await cy.session.call('wamp.subscription.get_events', [cyTopic.id, 10]) as { topic: string; args: { type: string }[] }[];
    return list.some((e) => e.args[0]?.type === 'position') && list;
  }, 10_000, 'Cy\'s position message in her history');
  t.ok(own.every((e) => e.topic === `claw.player.${cy.authid}`), 'Cy reads her own messages, and only hers');
  t.equal(await errorOf(dee.session.call('wamp.subscription.get_events', [cyTopic.id, 10])), 'wamp.error.not_authorized', 'another player may not read them');
  t.equal(await errorOf(spectator.session.call('wamp.subscription.get_events', [cyTopic.id, 10])), 'wamp.error.not_authorized', 'nor a spectator');
});
