// Issue 14 item 1, page side: a reload during one's own turn. The re-join
// answer (request_slot) says `playing: true`; the reloaded page shows the
// turn (not "You're next · Position 1"), takes the time left from the queue
// snapshot, and steers on the protocol's control topic: the machine's lines
// (watched by a separate spectator) show it. After a reload following Space
// the result still reaches the page. (The backend also re-sends `control` on
// every new session and answers the reclaim with the turn's endsAt and
// topic; the page steers at once either way.)
import t from 'tap';
import { FAST_OVERRIDES, PHONE, eventually, launch, launchBrowser, newPage, signIn, spectate, tempDir, visible } from './helpers.js';

t.setTimeout(180_000);

const OVERRIDES = { ...FAST_OVERRIDES, backend: { ...FAST_OVERRIDES.backend, defaults: { ...FAST_OVERRIDES.backend.defaults, moveSeconds: 40 } } };

t.test('a reload during one\'s own turn keeps the turn and control', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: OVERRIDES });
  const spectator = await spectate(t, system.wsUrl, 'claw-1');
  const browser = await launchBrowser(t);

  for (const [who, device] of [['Ann (desktop)', undefined], ['Bob (phone)', PHONE]] as const) {
    await t.test(who, async (t) => {
      const p = device ? await newPage(browser, device.viewport, device) : await newPage(browser);
      await signIn(p.page, system.url, who.split(' ')[0]!);
      await p.page.click('#join');
      await visible(p.page, '#phase-get_ready', 60_000);
      await p.page.click('#ready');
      await visible(p.page, '#phase-playing');

      await p.page.reload();
      await visible(p.page, '#phase-playing');
      t.ok(await p.page.locator('#phase-waiting').isHidden(), 'not "You\'re next"');
      await eventually(async () => /^\d:\d\d$/.test((await p.page.textContent('#turn-countdown')) ?? ''), 15_000, 'the time left');
      t.match(await p.page.textContent('#turn-countdown'), /^0:[1-4]\d$/, 'the time left of the running turn');
      t.equal(await p.page.title(), '🕹 Your turn – ClawGate');

      // Steering works after the reload: held right asserts the right line on the machine.
      await eventually(() => spectator.lines.length > 0, 15_000, 'lines');
      const from = spectator.lines.length;
      if (device) {
        const pad = p.page.locator('#pad .right');
        await pad.dispatchEvent('pointerdown', { pointerId: 1, pointerType: 'touch', isPrimary: true });
        await eventually(() => spectator.lines.slice(from).some((l) => l.payload.outputs.right), 15_000, 'the right line from the pad');
        await pad.dispatchEvent('pointerup', { pointerId: 1, pointerType: 'touch', isPrimary: true });
      } else {
        await p.page.locator('#turn').focus();
        await p.page.keyboard.down('ArrowRight');
        await eventually(() => spectator.lines.slice(from).some((l) => l.payload.outputs.right), 15_000, 'the right line from the keyboard');
        await p.page.keyboard.up('ArrowRight');
      }
      await eventually(() => spectator.lines.at(-1)!.payload.outputs.right === false, 15_000, 'released');
      t.pass('steering reaches the machine after the reload');

      // Drop, reload mid-drop: the page resumes the drop (progress, no steering) and gets the result.
      const fromDrop = spectator.lines.length;
      if (device) await p.page.locator('#drop').tap();
      else await p.page.keyboard.press('Space');
      await eventually(() => spectator.lines.slice(fromDrop).some((l) => l.payload.outputs.drop), 15_000, 'the drop');
      await p.page.reload();
      // Back before the claw is up again, the page resumes the drop's progress from the lines (the claw is
      // down); back later, nothing in the lines tells a drop happened, and the page shows the turn until the result.
      await visible(p.page, '#phase-result', 45_000);
      t.match(await p.page.textContent('#result-title'), /You won!|No prize this time/, 'the result reaches the reloaded page');
      t.same(p.log.errors, [], 'no errors in the page');
    });
  }
});
