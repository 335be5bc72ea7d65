// Issue 14, a whole-system restart in every phase at once, in real headless
// Chromium against `node system/bin/clawgate.js --machines 3`: Ctrl-C (the
// launcher's SIGINT, which stops the claw nodes first, then the backend,
// then the router), then `clawgate` again on the same data folder and port,
// while
//   claw-1: Ann (desktop) plays, Bea (desktop) waits behind her;
//   claw-2: Cy (desktop) is being asked to get ready, and does not confirm;
//   claw-3: Dee (a 360×740 touch phone) has dropped: the claw is on its way.
// The restart takes longer than Cy's 12 s ready window. Afterwards every
// page is back where it was: Ann and Dee, whose turns the stop interrupted
// (recorded `abandoned`), are first again and get the ready prompt with a
// whole window; Cy's prompt comes back with a whole window instead of
// "you did not confirm in time"; Bea is still right behind Ann. Then each
// confirms and plays.
import t from 'tap';
import type { Page } from 'playwright-core';
import { FAST_OVERRIDES, PHONE, eventually, launch, launchBrowser, newPage, sleep, spectate, tempDir, visible } from './helpers.js';
import { signInTo } from './page-helpers.js';

t.setTimeout(300_000);

const READY_WINDOW = 12;
const OVERRIDES = {
  backend: {
    ...FAST_OVERRIDES.backend,
    defaults: { moveSeconds: 40, readyWindowSeconds: READY_WINDOW, graceSeconds: 180 },
    presence: { recoveryWindowSeconds: 120 },
  },
  // A long drop cycle, so the stop surely comes while Dee's claw is on its way.
  claw: { ...FAST_OVERRIDES.claw, timings: { dropCycleSeconds: 8, prizeWindowSeconds: 2 } },
};

/** Seconds on a m:ss countdown. */
async function countdown(page: Page, selector: string): Promise<number> {
  const text = (await page.textContent(selector)) ?? '';
  const m = /^(\d+):(\d\d)$/.exec(text.trim());
  if (!m) throw new Error(`not a countdown: ${text}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

t.test('a whole-system restart while one plays, one waits, one is asked and one has dropped', async (t) => {
  const dir = tempDir(t);
  const data = `${dir}/data`;
  const first = await launch(t, { dataDir: data, overrides: OVERRIDES, args: ['--machines', '3'] });
  const port = new URL(first.url).port;
  const browser = await launchBrowser(t);
  const [ann, bea, cy] = [await newPage(browser), await newPage(browser), await newPage(browser)];
  const dee = await newPage(browser, PHONE.viewport, PHONE);
  await signInTo(ann.page, first.url, 'Ann', 'claw-1');
  await signInTo(bea.page, first.url, 'Bea', 'claw-1');
  await signInTo(cy.page, first.url, 'Cy', 'claw-2');
  await signInTo(dee.page, first.url, 'Dee', 'claw-3');

  // claw-1: Ann plays, Bea waits.
  await ann.page.click('#join');
  await visible(ann.page, '#phase-get_ready');
  await ann.page.click('#ready');
  await visible(ann.page, '#phase-playing');
  await bea.page.click('#join');
  await bea.page.locator('#phase-waiting[data-position="0"]').waitFor();
  // claw-2: Cy is asked and lets it be.
  await cy.page.click('#join');
  await visible(cy.page, '#phase-get_ready');
  const cyAskedAt = Date.now();
  // claw-3: Dee plays and drops; the stop comes while the claw is on its way.
  const spectator = await spectate(t, first.wsUrl, 'claw-3');
  await dee.page.click('#join');
  await visible(dee.page, '#phase-get_ready');
  await dee.page.locator('#ready').tap();
  await visible(dee.page, '#phase-playing');
  const from = spectator.lines.length;
  await dee.page.locator('#drop').tap();
  await eventually(() => spectator.lines.slice(from).some((l) => l.payload.outputs.drop || l.payload.turnPhase === 'drop'), 15_000, 'the drop on claw-3');
  await visible(dee.page, '#drop-status');

  t.equal(await first.interrupt(), 0, 'Ctrl-C: the system stops cleanly');
  await spectator.close();
  // Down for longer than Cy's ready window.
  await sleep(Math.max(0, cyAskedAt + READY_WINDOW * 1000 + 1000 - Date.now()));
  const second = await launch(t, { dataDir: data, overrides: OVERRIDES, args: ['--machines', '3', '--port', port] });
  t.equal(second.url, first.url, 'the same address');

  // Everyone is back where they were, with a real ready window.
  for (const [who, p] of [['Ann', ann], ['Cy', cy], ['Dee', dee]] as const) {
    await p.page.locator('#conn.ok').waitFor({ timeout: 90_000 });
    // (Cy's page still shows the prompt it had, run down to 0:00, until the backend answers.)
    await visible(p.page, '#phase-get_ready', 60_000);
    const left = await eventually(async () => { const s = await countdown(p.page, '#ready-countdown'); return s >= 5 && s; }, 30_000, `${who}'s prompt with time left`)
      .catch(async () => countdown(p.page, '#ready-countdown'));
    t.ok(left >= 5, `${who}: the ready prompt with time to answer (${left} s of ${READY_WINDOW})`);
  }
  t.ok(await cy.page.locator('#phase-removed').isHidden(), 'Cy was not told she missed it');
  await bea.page.locator('#conn.ok').waitFor({ timeout: 60_000 });
  await bea.page.locator('#phase-waiting[data-position="1"]').waitFor({ timeout: 30_000 });
  await bea.page.locator('#waiting li').nth(1).waitFor();
  t.same(await bea.page.locator('#waiting li').allTextContents(), ['Ann', 'Bea'], 'Ann is first again, Bea right behind her');
  t.match(await bea.page.textContent('#eta'), /minute|min/, 'Bea has a wait estimate');

  // And each of them plays.
  await ann.page.click('#ready');
  await visible(ann.page, '#phase-playing', 30_000);
  await cy.page.click('#ready');
  await visible(cy.page, '#phase-playing', 30_000);
  await dee.page.locator('#ready').tap();
  await visible(dee.page, '#phase-playing', 30_000);
  await eventually(async () => /^0:[1-4]\d$/.test((await dee.page.textContent('#turn-countdown')) ?? ''), 15_000, 'Dee\'s whole new turn');
  t.pass('Ann, Cy and Dee play after the restart');

  t.equal(await second.interrupt(), 0, 'second stop: exit 0');
  for (const [who, p] of [['Ann', ann], ['Bea', bea], ['Cy', cy], ['Dee', dee]] as const) {
    t.same(p.log.errors.filter((e) => e.startsWith('pageerror')), [], `no script errors in ${who}'s page`);
  }
});
