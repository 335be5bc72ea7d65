// Issue 14, a place and a turn belong to the player, not to a page, in real
// headless Chromium against `node system/bin/clawgate.js`:
// - desktop: a reload while being asked to get ready shows the prompt again
//   with the time really left (the window does not restart, nor is it lost);
//   the box shows where the prizes lie; a second tab opened during the turn
//   shows the turn and steers the claw;
// - then the player closes every tab mid-turn: the next player (a 360×740
//   touch phone) is asked within the turn grace and a few seconds, not after
//   the 60 s turn; she reloads while being asked, gets the prompt back with
//   its real time left, and plays.
// (Reloads while queued, playing and dropping: e2e-reload and e2e-turn-resume.)
import t from 'tap';
import type { Page } from 'playwright-core';
import { FAST_OVERRIDES, PHONE, eventually, launch, launchBrowser, newPage, screenshot, signIn, sleep, spectate, tempDir, visible } from './helpers.js';

t.setTimeout(240_000);

const TURN_GRACE = 3;
const OVERRIDES = {
  ...FAST_OVERRIDES,
  backend: { ...FAST_OVERRIDES.backend, defaults: { moveSeconds: 60, readyWindowSeconds: 40, graceSeconds: 60 }, presence: { turnGraceSeconds: TURN_GRACE } },
};

async function countdown(page: Page, selector: string): Promise<number> {
  const m = /^(\d+):(\d\d)$/.exec(((await page.textContent(selector)) ?? '').trim());
  if (!m) throw new Error(`${selector} is no countdown`);
  return Number(m[1]) * 60 + Number(m[2]);
}

t.test('reloads while asked, a second tab during the turn, a tab closed mid-turn', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: OVERRIDES });
  const spectator = await spectate(t, system.wsUrl, 'claw-1');
  const browser = await launchBrowser(t);
  const eve = await newPage(browser);
  const fay = await newPage(browser, PHONE.viewport, PHONE);
  await signIn(eve.page, system.url, 'Eve');
  await signIn(fay.page, system.url, 'Fay');

  // The prizes the simulated machine publishes are drawn in the box.
  const published = await eventually(() => spectator.lines.findLast((l) => l.payload.prizes !== undefined)?.payload.prizes, 15_000, 'prizes on the lines topic');
  await eventually(async () => (await eve.page.locator('#box .prize').count()) === published.length, 15_000, 'the prizes drawn');
  t.ok(published.length > 0, `${published.length} prizes in the box, drawn where the machine says`);

  // Eve is asked, reloads 3 s into her 40 s window: the prompt comes back with the time really left.
  await eve.page.click('#join');
  await visible(eve.page, '#phase-get_ready');
  await fay.page.click('#join');
  await fay.page.locator('#phase-waiting[data-position="1"]').waitFor();
  const before = await countdown(eve.page, '#ready-countdown');
  await sleep(3000);
  const reloadedAt = Date.now();
  await eve.page.reload();
  await visible(eve.page, '#phase-get_ready', 30_000);
  await eventually(async () => (await countdown(eve.page, '#ready-countdown')) > 0, 15_000, 'the countdown after the reload');
  const after = await countdown(eve.page, '#ready-countdown');
  const elapsed = Math.round((Date.now() - reloadedAt) / 1000) + 3;
  t.ok(after <= before - 2, `not a new window: ${before} s before, ${after} s after the reload`);
  t.ok(after >= before - elapsed - 2, `nor lost: ${after} s left after about ${elapsed} s`);
  t.equal(await eve.page.title(), '⏰ Get ready! – ClawGate', 'the tab title says it again');

  await eve.page.click('#ready');
  await visible(eve.page, '#phase-playing');
  await screenshot(eve.page, 'turn-prizes', false);

  // A second tab during the turn: it shows the turn and steers.
  const tab = await eve.context.newPage();
  await tab.goto(system.url);
  await visible(tab, '#phase-playing', 30_000);
  await eventually(async () => /^\d:\d\d$/.test((await tab.textContent('#turn-countdown')) ?? ''), 15_000, 'the second tab\'s countdown');
  const from = spectator.lines.length;
  await tab.locator('#turn').focus();
  await tab.keyboard.down('ArrowRight');
  await eventually(() => spectator.lines.slice(from).some((l) => l.payload.outputs.right), 15_000, 'the right line from the second tab');
  await tab.keyboard.up('ArrowRight');
  t.pass('the second tab steers the claw');
  await fay.page.locator('#phase-waiting[data-position="0"]').waitFor();

  // Eve closes every tab: the machine is given back after the turn grace, not after the 60 s turn.
  await eve.context.close();
  const closedAt = Date.now();
  await visible(fay.page, '#phase-get_ready', 30_000);
  const waited = (Date.now() - closedAt) / 1000;
  t.ok(waited >= TURN_GRACE - 0.5, `not before the turn grace (${waited.toFixed(1)} s)`);
  t.ok(waited < TURN_GRACE + 15, `Fay asked within the grace and a few seconds (${waited.toFixed(1)} s), not the turn's 60 s`);

  // Fay reloads on the phone while asked: the prompt again, with its real time.
  const fayBefore = await countdown(fay.page, '#ready-countdown');
  await sleep(2000);
  await fay.page.reload();
  await visible(fay.page, '#phase-get_ready', 30_000);
  await eventually(async () => (await countdown(fay.page, '#ready-countdown')) > 0, 15_000, 'Fay\'s countdown after the reload');
  const fayAfter = await countdown(fay.page, '#ready-countdown');
  t.ok(fayAfter < fayBefore && fayAfter > 5, `the same window on the phone (${fayBefore} s, then ${fayAfter} s)`);
  await fay.page.locator('#ready').tap();
  await visible(fay.page, '#phase-playing', 30_000);
  t.pass('Fay plays');
  t.same([...eve.log.errors, ...fay.log.errors].filter((e) => e.startsWith('pageerror')), [], 'no script errors');
});
