// Issue 14, the dashboard, in real headless Chromium against
// `node system/bin/clawgate.js`: who is being asked (with the time left)
// and who plays; a no-show and a kick with a block against rejoining show
// in the turns table; the kicked player (on a 360×740 touch phone) is told
// until when, and Join again says so too; a bad block is refused in the
// dialog; a skipped turn says why in the table.
import t from 'tap';
import { FAST_OVERRIDES, PHONE, eventually, launch, launchBrowser, newPage, screenshot, signIn, tempDir, visible } from './helpers.js';
import { signInOperator } from './page-helpers.js';

t.setTimeout(240_000);

const OVERRIDES = { ...FAST_OVERRIDES, backend: { ...FAST_OVERRIDES.backend, defaults: { moveSeconds: 60, readyWindowSeconds: 8, graceSeconds: 60 } } };

t.test('dashboard: asked and playing, a no-show, a kick with a block, a skip; the kicked player is told', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: OVERRIDES });
  const browser = await launchBrowser(t);
  const op = await newPage(browser, { width: 1200, height: 900 });
  await signInOperator(op.page, system.url, system.operatorSecret);
  const card = op.page.locator('article[aria-label="Machine claw-1"]');
  const table = op.page.locator('#turns');

  const ivy = await newPage(browser);
  const gus = await newPage(browser);
  const hal = await newPage(browser, PHONE.viewport, PHONE);
  await signIn(ivy.page, system.url, 'Ivy');
  await signIn(gus.page, system.url, 'Gus');
  await signIn(hal.page, system.url, 'Hal');

  // Ivy is asked and does not answer: the card says so with the time left, then she is a no-show.
  await ivy.page.click('#join');
  await visible(ivy.page, '#phase-get_ready');
  await gus.page.click('#join');
  await visible(gus.page, '#phase-waiting');
  await hal.page.locator('#join').tap();
  await visible(hal.page, '#phase-waiting');
  await card.locator('.asked', { hasText: /^Asking Ivy to get ready \(0:0\d left\)$/ }).waitFor();
  t.pass('the card says who is asked, with the time left');
  await ivy.page.locator('#removed-text', { hasText: 'did not confirm in time' }).waitFor({ timeout: 30_000 });
  await table.locator('tr', { hasText: 'Ivy' }).filter({ hasText: 'no-show (did not confirm)' }).waitFor({ timeout: 15_000 });
  t.pass('the no-show is in the turns table');

  // Gus plays.
  await visible(gus.page, '#phase-get_ready', 30_000);
  await gus.page.click('#ready');
  await visible(gus.page, '#phase-playing');
  await card.locator('.current', { hasText: /^Playing: Gus \(\d:\d\d left\)$/ }).waitFor();
  t.ok(await card.locator('.asked').isHidden(), 'nobody is asked while Gus plays');

  // Kick Hal with a block: a bad one is refused in the dialog first.
  const dialog = op.page.locator('#confirm');
  await card.getByRole('button', { name: 'Kick Hal' }).click();
  await dialog.waitFor({ state: 'visible' });
  t.ok(await op.page.locator('#confirm-block').isVisible(), 'Kick asks for a block');
  await op.page.fill('#confirm-block', '-2');
  await op.page.click('#confirm-ok');
  await op.page.locator('#confirm-problem', { hasText: 'number of minutes' }).waitFor();
  t.ok(await dialog.isVisible(), 'a bad block keeps the dialog open, nothing sent');
  t.ok(await hal.page.locator('#phase-waiting').isVisible(), 'Hal still queued');
  await op.page.fill('#confirm-block', '5');
  await screenshot(op.page, 'dashboard-kick-block');
  await op.page.click('#confirm-ok');
  await dialog.waitFor({ state: 'hidden' });
  await visible(hal.page, '#phase-removed');
  t.equal(await hal.page.textContent('#removed-text'), 'An operator removed you from the queue. You can join this machine again in about 5 min.', 'Hal is told until when');
  await hal.page.locator('#rejoin').tap();
  await hal.page.locator('#turn-error', { hasText: 'An operator removed you from this queue. You can join it again in about 5 min.' }).waitFor();
  t.ok(await hal.page.locator('#phase-waiting').isHidden(), 'and cannot rejoin');
  await table.locator('tr', { hasText: 'Hal' }).filter({ hasText: /kicked by operator, blocked for [45] min/ }).waitFor({ timeout: 15_000 });
  t.match(await op.page.textContent('#notice'), /removed Hal from the queue \(blocked for 5 min\)/);

  // Skip Gus's turn: the table says why it ended.
  await card.getByRole('button', { name: 'Skip current turn claw-1' }).click();
  await op.page.getByRole('dialog').getByRole('button', { name: 'Skip Gus' }).click();
  await visible(gus.page, '#phase-result');
  await table.locator('tr', { hasText: 'Gus' }).filter({ hasText: 'skipped (by staff)' }).waitFor({ timeout: 15_000 });
  await eventually(async () => (await table.locator('tr').count()) >= 3, 10_000, 'three rows');
  await screenshot(op.page, 'dashboard-turns');
  t.same(await table.locator('tr td:nth-child(3)').allTextContents(), ['Gus', 'Hal', 'Ivy'], 'newest first: the skip, the kick, the no-show');

  for (const [who, p] of [['operator', op], ['Ivy', ivy], ['Gus', gus], ['Hal', hal]] as const) t.same(p.log.errors, [], `no errors in ${who}'s page`);
});
