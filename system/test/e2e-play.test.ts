// End to end in real headless Chromium against the system started the way
// README says: two players join the same machine; the first confirms the
// get-ready prompt, steers with the keyboard (the machine's `lines`, watched
// by a separate spectator, show the move), drops and sees a result; the
// second (on a 360 px touch phone) moves to position 0, gets their turn,
// steers with the on-screen pad and drops by touch. (Reloads: e2e-reload.)
import t from 'tap';
import { FAST_OVERRIDES, PHONE, eventually, launch, launchBrowser, newPage, screenshot, signIn, spectate, tempDir, touchDown, visible } from './helpers.js';

t.setTimeout(120_000);

t.test('two players on one machine: ready, steer, drop, result, next player', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: FAST_OVERRIDES });
  const spectator = await spectate(t, system.wsUrl, 'claw-1');
  const browser = await launchBrowser(t);
  const ann = await newPage(browser);
  // Bob plays on a 360 px phone with the on-screen pad.
  const bob = await newPage(browser, PHONE.viewport, PHONE);

  await signIn(ann.page, system.url, 'Ann');
  await signIn(bob.page, system.url, 'Bob');
  // The lobby lists the machine with its state, queue and spectator counts.
  await ann.page.locator('#machines .machine-button', { hasText: 'claw-1' }).locator('.badge', { hasText: 'Free' }).waitFor();
  t.match(await ann.page.textContent('#machines'), /waiting · \d+ watching/, 'lobby shows queue length and spectators');
  await screenshot(ann.page, 'lobby');

  await ann.page.click('#join');
  await visible(ann.page, '#phase-get_ready');
  await bob.page.click('#join');
  await visible(bob.page, '#phase-waiting');
  t.equal(await bob.page.getAttribute('#phase-waiting', 'data-position'), '1', 'Bob waits behind Ann (position 1)');
  t.match(await bob.page.textContent('#eta'), /minute|min/, 'Bob sees an ETA');

  // The get-ready prompt has a live countdown and takes focus, so Enter confirms.
  t.match(await ann.page.textContent('#ready-countdown'), /^\d:\d\d$/, 'countdown shown');
  await ann.page.locator('#ready:focus').waitFor({ timeout: 10_000 });
  t.pass('the Ready button has focus');
  await ann.page.keyboard.press('Enter');
  await visible(ann.page, '#phase-playing');
  t.match(await ann.page.textContent('#turn-countdown'), /^\d:\d\d$/, 'turn countdown shown');
  const padBefore = await ann.page.locator('#pad').boundingBox();

  // Bob moves to the front while Ann plays.
  await bob.page.locator('#phase-waiting[data-position="0"]').waitFor();
  t.match(await bob.page.textContent('#position-text'), /You're next/, 'Bob is told he is next');
  t.match(await bob.page.textContent('#now-playing'), /Now playing: Ann/, 'Bob sees who is playing');
  await ann.page.locator('#waiting li', { hasText: 'Bob' }).waitFor();
  t.same(await ann.page.locator('#pad').boundingBox(), padBefore, 'the queue changing does not move Ann\'s controls');

  // Steer right with the keyboard (held: repeated rightOn), then back with W.
  await eventually(() => spectator.lines.length > 0, 15_000, 'the retained lines');
  const startX = spectator.lines.at(-1)!.payload.claw!.x;
  const from = spectator.lines.length;
  await ann.page.keyboard.down('ArrowRight');
  await eventually(() => spectator.lines.slice(from).some((l) => l.payload.outputs.right), 15_000, 'the right line to be asserted');
  await eventually(() => (spectator.lines.at(-1)!.payload.claw?.x ?? 0) > startX + 0.2, 20_000, 'the claw to move right');
  await ann.page.keyboard.up('ArrowRight');
  await eventually(() => spectator.lines.at(-1)!.payload.outputs.right === false, 15_000, 'the right line to be released on keyup');
  t.ok(spectator.lines.at(-1)!.payload.claw!.x > startX + 0.2, `the claw moved right (x ${startX} → ${spectator.lines.at(-1)!.payload.claw!.x})`);

  const fromW = spectator.lines.length;
  await ann.page.keyboard.down('w');
  await eventually(() => spectator.lines.slice(fromW).some((l) => l.payload.outputs.up), 15_000, 'W to assert the up line');
  await eventually(() => (spectator.lines.at(-1)!.payload.claw?.y ?? 0) > 0.15, 20_000, 'the claw to move back');
  // The page's own spectator view draws the same claw.
  const transform = await ann.page.getAttribute('.claw', 'transform');
  t.match(transform, /translate\(/, 'the claw-in-a-box view is drawn');
  await screenshot(ann.page, 'turn');
  await ann.page.keyboard.up('w');
  await eventually(() => spectator.lines.at(-1)!.payload.outputs.up === false, 15_000, 'the up line to be released');

  const fromDrop = spectator.lines.length;
  await ann.page.keyboard.press('Space');
  await eventually(() => spectator.lines.slice(fromDrop).some((l) => l.payload.outputs.drop), 15_000, 'the drop line to pulse');
  await visible(ann.page, '#phase-result', 45_000);
  t.match(await ann.page.textContent('#result-title'), /You won!|No prize this time/, 'Ann sees the result');

  await visible(bob.page, '#phase-get_ready', 45_000);
  await bob.page.locator('#ready').tap();
  await visible(bob.page, '#phase-playing');
  t.pass('Bob gets his turn after Ann');

  // On the phone: nothing wider than the screen, and the pad works by touch (held = repeated, release = Off).
  t.equal(await bob.page.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth'), true, 'no horizontal scrolling at 360 px');
  const fromTouch = spectator.lines.length;
  const lift = await touchDown(bob.page, '#pad .left');
  await eventually(() => spectator.lines.slice(fromTouch).some((l) => l.payload.outputs.left), 15_000, 'a finger on ◀ to assert the left line');
  await new Promise((r) => setTimeout(r, 900)); // longer than the node's 600 ms dead man: only the 200 ms repeat keeps it held
  t.equal(spectator.lines.at(-1)!.payload.outputs.left, true, 'still held after 900 ms (the page repeats leftOn)');
  await lift();
  await eventually(() => spectator.lines.at(-1)!.payload.outputs.left === false, 15_000, 'the left line to be released when the finger lifts');
  const fromTap = spectator.lines.length;
  await bob.page.locator('#drop').tap();
  await eventually(() => spectator.lines.slice(fromTap).some((l) => l.payload.outputs.drop), 15_000, 'DROP by touch to pulse the drop line');
  await visible(bob.page, '#phase-result', 45_000);
  t.pass('Bob dropped by touch and sees his result');

  t.same(ann.log.errors, [], 'no errors in Ann\'s page');
  t.same(bob.log.errors, [], 'no errors in Bob\'s page');
});
