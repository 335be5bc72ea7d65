// The operator dashboard in real headless Chromium: WAMP-CRA sign-in with the
// launcher's development operator, live machine state, current player and
// queue, router numbers, pause/resume, kick a waiting player and skip the
// player in control; the players' pages show the outcome.
import t from 'tap';
import { FAST_OVERRIDES, launch, launchBrowser, newPage, screenshot, signIn, tempDir, visible } from './helpers.js';

t.setTimeout(120_000);

t.test('operator: sign in, watch, pause/resume, kick, skip', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: FAST_OVERRIDES });
  const browser = await launchBrowser(t);

  const op = await newPage(browser, { width: 1200, height: 820 });
  await op.page.goto(`${system.url}operator`);
  // A wrong secret is refused and said so.
  await op.page.fill('#authid', 'operator');
  await op.page.fill('#secret', 'not-the-secret');
  await op.page.click('#login-submit');
  await op.page.locator('#login-error', { hasText: 'Sign-in refused' }).waitFor();
  t.ok(await op.page.isHidden('#dash'), 'dashboard stays hidden after a refused sign-in');

  await op.page.fill('#secret', system.operatorSecret);
  await op.page.click('#login-submit');
  await visible(op.page, '#dash');
  await op.page.locator('#conn', { hasText: 'Connected as operator' }).waitFor();
  const card = op.page.locator('article[aria-label="Machine claw-1"]');
  await card.locator('.badge', { hasText: 'Free' }).waitFor();
  // Router numbers: sessions is a number (from /metrics or the meta API); the source says which.
  await op.page.locator('#stat-sessions', { hasText: /^\d+$/ }).waitFor();
  t.match(await op.page.textContent('#stat-source'), /sessions from (\/metrics|wamp\.session\.count)/, 'stats name their source');

  // Pause and resume.
  await card.getByRole('button', { name: 'Pause claw-1' }).click();
  await card.locator('.badge', { hasText: 'Paused' }).waitFor();
  await card.getByRole('button', { name: 'Resume claw-1' }).click();
  await card.locator('.badge', { hasText: 'Free' }).waitFor();
  t.pass('pause and resume show on the card');

  // Fay plays; Gus and Hal wait.
  const fay = await newPage(browser);
  const gus = await newPage(browser);
  const hal = await newPage(browser);
  await signIn(fay.page, system.url, 'Fay');
  await signIn(gus.page, system.url, 'Gus');
  await signIn(hal.page, system.url, 'Hal');
  await fay.page.click('#join');
  await visible(fay.page, '#phase-get_ready');
  await gus.page.click('#join');
  await visible(gus.page, '#phase-waiting');
  await hal.page.click('#join');
  await visible(hal.page, '#phase-waiting');
  await fay.page.click('#ready');
  await visible(fay.page, '#phase-playing');

  await card.locator('.current', { hasText: 'Playing: Fay' }).waitFor();
  await card.locator('.queue-list li', { hasText: 'Hal' }).waitFor();
  t.same(await card.locator('.queue-list li > span').allTextContents(), ['Gus', 'Hal'], 'the card lists the queue in order');
  await op.page.locator('#turns tr', { hasText: 'Fay' }).first().waitFor();
  await screenshot(op.page, 'dashboard');

  // Kick Hal from the queue.
  await card.getByRole('button', { name: 'Kick Hal' }).click();
  // Kick and Skip ask first (a dialog naming the player); confirm.
  await op.page.getByRole('dialog').getByRole('button', { name: 'Kick Hal' }).click();
  await visible(hal.page, '#phase-removed');
  t.match(await hal.page.textContent('#removed-text'), /operator removed you/, 'Hal is told an operator removed him');
  await card.locator('.queue-list li', { hasText: 'Hal' }).waitFor({ state: 'detached' });

  // Skip Fay's turn.
  await card.getByRole('button', { name: 'Skip current turn claw-1' }).click();
  await op.page.getByRole('dialog').getByRole('button', { name: 'Skip Fay' }).click();
  await visible(fay.page, '#phase-result');
  t.match(await fay.page.textContent('#result-title'), /Turn ended by staff/, 'Fay sees her turn was ended by staff');
  await op.page.locator('#turns tr', { hasText: 'skipped' }).first().waitFor();
  t.match(await op.page.textContent('#notice'), /skipped/, 'the dashboard confirms the skip');

  // Gus is next.
  await visible(gus.page, '#phase-get_ready');
  t.pass('the next player is asked after the skip');
  for (const [who, p] of [['operator', op], ['Fay', fay], ['Gus', gus], ['Hal', hal]] as const) {
    t.same(p.log.errors.filter((e) => !(who === 'operator' && /401|authentication/.test(e))), [], `no errors in ${who}'s page`);
  }
});
