// Issue 14, honest waiting, in real headless Chromium: an operator pauses
// claw-1 while Fay plays. The dashboard shows it at once (badge Paused, Pause
// disabled, Resume enabled, Fay still playing); Fay's drop shows its
// progress from the machine's lines; after her turn Gus, first in the queue,
// is not asked and is told the machine is paused instead of a wait estimate;
// Resume asks him. Pause and resume during his turn flip the buttons too.
// The players' pages show a pause *during* a turn from the backend's
// `paused` field on the queue snapshot (the player in control too).
import t from 'tap';
import { FAST_OVERRIDES, eventually, launch, launchBrowser, newPage, screenshot, signIn, sleep, spectate, tempDir, visible } from './helpers.js';
import { signInOperator } from './page-helpers.js';

t.setTimeout(240_000);

t.test('pause during a turn: dashboard, players, drop progress, resume', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: FAST_OVERRIDES });
  const spectator = await spectate(t, system.wsUrl, 'claw-1');
  const browser = await launchBrowser(t);
  const op = await newPage(browser, { width: 1200, height: 820 });
  await signInOperator(op.page, system.url, system.operatorSecret);
  const card = op.page.locator('article[aria-label="Machine claw-1"]');
  const pause = card.getByRole('button', { name: 'Pause claw-1' });
  const resume = card.getByRole('button', { name: 'Resume claw-1' });

  const fay = await newPage(browser);
  const gus = await newPage(browser);
  await signIn(fay.page, system.url, 'Fay');
  await signIn(gus.page, system.url, 'Gus');
  await fay.page.click('#join');
  await visible(fay.page, '#phase-get_ready');
  await card.locator('.asked', { hasText: 'Asking Fay to get ready' }).waitFor();
  t.pass('the dashboard shows who is being asked');
  await gus.page.click('#join');
  await visible(gus.page, '#phase-waiting');
  await fay.page.click('#ready');
  await visible(fay.page, '#phase-playing');
  await card.locator('.current', { hasText: 'Playing: Fay' }).waitFor();
  await gus.page.locator('#phase-waiting[data-position="0"]').waitFor();
  t.ok(await card.locator('.asked').isHidden(), 'nobody is asked while Fay plays');

  // Pause during Fay's turn.
  t.ok(await pause.isEnabled() && await resume.isDisabled(), 'before: Pause enabled, Resume disabled');
  await pause.click();
  await card.locator('.badge', { hasText: 'Paused' }).waitFor();
  await eventually(async () => await pause.isDisabled() && await resume.isEnabled(), 10_000, 'Pause disabled and Resume enabled during the turn');
  t.match(await card.locator('.current').textContent(), /Playing: Fay/, 'the card still shows who plays');
  await screenshot(op.page, 'dashboard-paused-turn', false);

  const snapshot = await spectator.session.call('claw.queue.get', ['claw-1']) as Record<string, unknown>;
  t.equal(snapshot.paused, true, 'the backend\'s snapshot says paused during the turn');
  await gus.page.locator('#machines .badge', { hasText: 'Paused' }).waitFor();
  await visible(gus.page, '#machine-note');
  t.match(await gus.page.textContent('#machine-note'), /turn in progress finishes/, 'players see the pause during the turn');
  t.match(await gus.page.textContent('#eta'), /paused by staff/, 'and no estimate');
  // The player in control sees it too (the lobby badge and the note), and plays on.
  await fay.page.locator('#machines .badge', { hasText: 'Paused' }).waitFor();
  t.match(await fay.page.textContent('#machine-note'), /turn in progress finishes/, 'Fay sees the pause during her own turn');
  t.ok(await fay.page.locator('#phase-playing').isVisible(), 'and still plays');

  // Fay drops: the page follows the claw down and back from the machine's lines.
  await fay.page.keyboard.press('Space');
  await visible(fay.page, '#drop-status');
  const steps: number[] = [];
  await eventually(async () => {
    if (await fay.page.locator('#phase-result').isVisible()) return true;
    const v = Number(await fay.page.getAttribute('#drop-progress', 'value').catch(() => '0'));
    if (steps.at(-1) !== v) steps.push(v);
    return false;
  }, 45_000, 'Fay\'s result');
  t.ok(Math.max(...steps) >= 4, `the drop progress moved on before the result (steps seen: ${steps.join(' → ')})`);
  t.same([...steps].sort((a, b) => a - b), steps, 'and never went back');
  t.ok(spectator.lines.some((l) => l.payload.outputs.drop), 'the machine did drop');

  // Paused and the node ready: Gus is first but not asked, and told why.
  await gus.page.locator('#machines .badge', { hasText: 'Paused' }).waitFor();
  await visible(gus.page, '#machine-note');
  t.match(await gus.page.textContent('#machine-note'), /no turn starts until the machine is resumed/);
  t.match(await gus.page.textContent('#eta'), /unknown: the machine is paused by staff/, 'no "less than a minute" on a paused machine');
  await sleep(3000);
  t.ok(await gus.page.locator('#phase-get_ready').isHidden(), 'Gus is not asked while paused');
  t.ok(await card.locator('.asked').isHidden(), 'and the dashboard asks nobody');
  t.ok(await resume.isEnabled() && await pause.isDisabled(), 'the dashboard still says paused');

  await resume.click();
  await visible(gus.page, '#phase-get_ready', 30_000);
  await eventually(async () => await pause.isEnabled() && await resume.isDisabled(), 10_000, 'Pause enabled again');
  t.ok(await gus.page.locator('#machine-note').isHidden(), 'the pause note is gone');
  await gus.page.click('#ready');
  await visible(gus.page, '#phase-playing');
  await card.locator('.current', { hasText: 'Playing: Gus' }).waitFor();

  // Pause and resume during Gus's turn: each button's state follows at once.
  await pause.click();
  await eventually(async () => await pause.isDisabled() && await resume.isEnabled(), 10_000, 'paused during Gus\'s turn');
  await resume.click();
  await eventually(async () => await pause.isEnabled() && await resume.isDisabled(), 10_000, 'resumed during Gus\'s turn');
  await card.locator('.badge', { hasText: 'Playing' }).waitFor();
  t.pass('pause and resume during a turn');

  for (const [who, p] of [['operator', op], ['Fay', fay], ['Gus', gus]] as const) t.same(p.log.errors, [], `no errors in ${who}'s page`);
});
