// Issue 14, the dashboard, in real headless Chromium: names of the full 24
// characters that are as wide as names get (fullwidth letters, wide emoji,
// CJK, one unbroken word) keep every Kick button inside its card, on a
// laptop and on a 360 px phone; the card says who is being asked to get
// ready; Skip and Kick ask first in a modal dialog that names the person,
// works with the keyboard (Esc cancels, Tab + Enter confirms) and gives the
// focus back.
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { FAST_OVERRIDES, PHONE, launch, launchBrowser, newPage, screenshot, signIn, tempDir, visible } from './helpers.js';
import { inside, rect, signInOperator } from './page-helpers.js';

t.setTimeout(240_000);

const NAMES = {
  wide: 'Ｗ'.repeat(24), // fullwidth letters
  word: 'M'.repeat(24), // one long unbroken word
  emoji: '🦀'.repeat(24), // 24 code points, 48 UTF-16 units
  cjk: '漢字'.repeat(12),
};

async function kickButtonsInside(t: Test, page: Page, what: string): Promise<void> {
  const card = page.locator('article[aria-label="Machine claw-1"]');
  const cardBox = await rect(card);
  const rows = card.locator('.queue-list li');
  const n = await rows.count();
  t.ok(n >= 3, `${what}: ${n} queued players listed`);
  for (let i = 0; i < n; i++) {
    const kick = rows.nth(i).getByRole('button', { name: /^Kick / });
    const box = await rect(kick);
    t.ok(inside(box, cardBox), `${what}: row ${i + 1}'s Kick (x ${Math.round(box.x)}–${Math.round(box.x + box.width)}) inside the card (x ${Math.round(cardBox.x)}–${Math.round(cardBox.x + cardBox.width)})`);
    t.ok(box.width >= 40, `${what}: row ${i + 1}'s Kick keeps its size (${Math.round(box.width)} px)`);
  }
  for (const sel of ['.current', '.asked', 'h3']) {
    const l = card.locator(sel);
    if (await l.isVisible()) t.ok(inside(await rect(l), cardBox), `${what}: ${sel} inside the card`);
  }
  t.equal(await card.evaluate(new Function('el', 'return el.scrollWidth <= el.clientWidth') as (el: unknown) => boolean), true, `${what}: nothing overflows the card`);
  t.equal(await page.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth'), true, `${what}: no horizontal scrolling`);
}

t.test('dashboard: any name fits, who is asked, Skip and Kick confirmed', async (t) => {
  const dir = tempDir(t);
  // The first to join must still be asked when Skip is tried, minutes later on a loaded machine:
  // with the default 30 s window she was once a no-show before the dashboard on the phone had loaded.
  const overrides = { ...FAST_OVERRIDES, backend: { ...FAST_OVERRIDES.backend, defaults: { ...FAST_OVERRIDES.backend.defaults, readyWindowSeconds: 180 } } };
  const system = await launch(t, { dataDir: `${dir}/data`, overrides });
  const browser = await launchBrowser(t);
  const players: Record<keyof typeof NAMES, Awaited<ReturnType<typeof newPage>>> = {} as never;
  for (const [k, name] of Object.entries(NAMES) as [keyof typeof NAMES, string][]) {
    players[k] = await newPage(browser);
    await signIn(players[k].page, system.url, name);
    await players[k].page.click('#join');
    await players[k].page.locator('#phase-get_ready:not([hidden]), #phase-waiting:not([hidden])').waitFor();
  }
  const op = await newPage(browser, { width: 1200, height: 820 });
  await signInOperator(op.page, system.url, system.operatorSecret);
  const card = op.page.locator('article[aria-label="Machine claw-1"]');
  await card.locator('.queue-list li').nth(3).waitFor();
  // The first to join is being asked (nobody plays, the machine is ready).
  await card.locator('.asked', { hasText: `Asking ${NAMES.wide} to get ready` }).waitFor();
  t.pass('the card shows who is being asked to get ready');
  await kickButtonsInside(t, op.page, 'laptop');
  // Artifact only: this Chromium has no emoji or CJK fonts, so the names show as boxes.
  await screenshot(op.page, 'dashboard-long-names', false);

  const phone = await newPage(browser, PHONE.viewport, PHONE);
  await signInOperator(phone.page, system.url, system.operatorSecret);
  await phone.page.locator('article[aria-label="Machine claw-1"] .queue-list li').nth(3).waitFor();
  await kickButtonsInside(t, phone.page, '360 px phone');
  await phone.context.close();

  // Kick asks first; Esc cancels and nothing happens.
  const dialog = op.page.locator('#confirm');
  const kickWord = card.getByRole('button', { name: `Kick ${NAMES.word}` });
  await kickWord.click();
  await dialog.waitFor({ state: 'visible' });
  t.equal(await op.page.getAttribute('#confirm', 'aria-labelledby'), 'confirm-title');
  t.match(await op.page.textContent('#confirm-title'), `Kick ${NAMES.word} from claw-1?`, 'the dialog names the person');
  t.equal(await op.page.evaluate('document.activeElement && document.activeElement.id'), 'confirm-cancel', 'Cancel has the focus (Enter does not kick)');
  t.ok(inside(await rect(op.page.locator('#confirm-ok')), await rect(dialog)), 'the confirm button fits the dialog whatever the name');
  await op.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  t.equal(await op.page.evaluate('document.activeElement && document.activeElement.getAttribute("aria-label")'), `Kick ${NAMES.word}`, 'focus back on the Kick button');
  t.ok(await players.word.page.locator('#phase-waiting').isVisible(), 'Esc: the player is still queued');
  t.equal(await card.locator('.queue-list li', { hasText: NAMES.word }).count(), 1);

  // Keyboard only: Enter on Kick, Tab to the confirm button, Enter.
  await kickWord.focus();
  await op.page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'visible' });
  await op.page.keyboard.press('Tab');
  t.equal(await op.page.evaluate('document.activeElement && document.activeElement.id'), 'confirm-ok');
  t.equal(await op.page.textContent('#confirm-ok'), `Kick ${NAMES.word}`);
  await op.page.keyboard.press('Enter');
  await visible(players.word.page, '#phase-removed');
  t.match(await players.word.page.textContent('#removed-text'), /operator removed you/, 'confirmed: the player is kicked');
  await card.locator('.queue-list li', { hasText: NAMES.word }).waitFor({ state: 'detached' });
  t.match(await op.page.textContent('#notice'), `removed ${NAMES.word}`);

  // Skip the player being asked: confirm with a click.
  await card.getByRole('button', { name: 'Skip current turn claw-1' }).click();
  await dialog.waitFor({ state: 'visible' });
  t.match(await op.page.textContent('#confirm-title'), `Skip ${NAMES.wide} on claw-1?`);
  await op.page.click('#confirm-ok');
  await visible(players.wide.page, '#phase-removed');
  t.pass('the player being asked is skipped');

  // The next (the emoji name) is asked and plays; Skip → Cancel leaves the turn alone, Skip → confirm ends it.
  await visible(players.emoji.page, '#phase-get_ready', 30_000);
  await players.emoji.page.click('#ready');
  await visible(players.emoji.page, '#phase-playing');
  await card.locator('.current', { hasText: `Playing: ${NAMES.emoji}` }).waitFor();
  await card.getByRole('button', { name: 'Skip current turn claw-1' }).click();
  await dialog.waitFor({ state: 'visible' });
  t.match(await op.page.textContent('#confirm-title'), `Skip ${NAMES.emoji} on claw-1?`);
  await op.page.click('#confirm-cancel');
  await dialog.waitFor({ state: 'hidden' });
  t.ok(await players.emoji.page.locator('#phase-playing').isVisible(), 'Cancel: still playing');
  await card.getByRole('button', { name: 'Skip current turn claw-1' }).click();
  await dialog.waitFor({ state: 'visible' });
  await op.page.click('#confirm-ok');
  await visible(players.emoji.page, '#phase-result');
  t.match(await players.emoji.page.textContent('#result-title'), /Turn ended by staff/, 'confirmed: the turn is skipped');
  await op.page.locator('#turns tr', { hasText: 'skipped' }).first().waitFor();
  t.equal(await op.page.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth'), true, 'the turns table holds the names too');

  for (const [who, p] of [['operator', op], ...Object.entries(players)] as const) t.same(p.log.errors, [], `no errors in ${who}'s page`);
});
