// Issue 14, the get-ready prompt can't be missed, in real headless Chromium
// against `node system/bin/clawgate.js --machines 3`:
// - desktop: a player asked on claw-2 who looks at claw-3 sees the prompt
//   (banner with the real time left and the ready button) and the tab title;
//   when the ready window runs out, "You are in the queue of claw-2" goes
//   and claw-3 can be joined;
// - phone (360×740, touch): the opt-in tone (remembered across a reload) and
//   the vibration when asked, the banner on screen while looking at another
//   machine, I'm ready from the banner; then, during the turn, the box and
//   the pad both in the viewport and the dark-mode DROP button's contrast.
import t from 'tap';
import { FAST_OVERRIDES, PHONE, eventually, launch, launchBrowser, newPage, screenshot, tempDir, visible } from './helpers.js';
import { alerts, contrast, inViewport, recordAlerts, rect, signInTo } from './page-helpers.js';

t.setTimeout(240_000);

const BASE_TITLE = 'ClawGate: play a claw machine';
// claw-2's ready window is short so the test can watch it run out; the others keep the generous default.
const OVERRIDES = { ...FAST_OVERRIDES, backend: { ...FAST_OVERRIDES.backend, machines: { 'claw-2': { readyWindowSeconds: 8 } } } };

t.test('the get-ready prompt wherever the player looks', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: OVERRIDES, args: ['--machines', '3'] });
  const browser = await launchBrowser(t);

  await t.test('desktop: asked on claw-2 while looking at claw-3; the prompt goes with the place', async (t) => {
    const ann = await newPage(browser);
    await signInTo(ann.page, system.url, 'Ann', 'claw-2');
    t.equal(await ann.page.title(), BASE_TITLE);
    await ann.page.click('#join');
    await visible(ann.page, '#phase-get_ready');
    // The turn panel shows the prompt here: no banner needed.
    await ann.page.locator('#ready-banner').waitFor({ state: 'hidden' });
    await eventually(async () => (await ann.page.title()) === '⏰ Get ready! – ClawGate', 10_000, 'the tab title to say get ready');

    await ann.page.locator('#machines .machine-button', { hasText: 'claw-3' }).click();
    await ann.page.locator('#machine-title', { hasText: 'claw-3' }).waitFor();
    await visible(ann.page, '#ready-banner');
    t.match(await ann.page.textContent('#ready-banner'), /Get ready on claw-2!/, 'the banner names the machine');
    const left = await ann.page.textContent('#banner-countdown');
    t.match(left, /^0:0\d$/, `the real time left of claw-2's 8 s window (${left})`);
    t.ok(await ann.page.locator('#banner-ready').isEnabled(), 'the ready button is there');
    t.ok(await inViewport(ann.page, ann.page.locator('#ready-banner')), 'the banner is on screen');
    t.match(await ann.page.textContent('#idle-text'), /being asked to get ready on claw-2/, 'claw-3 says why it cannot be joined');
    t.ok(await ann.page.locator('#join').isDisabled());
    t.equal(await ann.page.title(), '⏰ Get ready! – ClawGate', 'the title still says it');
    await screenshot(ann.page, 'ready-elsewhere');

    // Ann lets it run out: the backend removes her (timeout); the page must not keep claiming the place.
    await ann.page.locator('#ready-banner').waitFor({ state: 'hidden', timeout: 30_000 });
    await ann.page.locator('#idle-text', { hasText: 'Join the queue to play this machine.' }).waitFor();
    await ann.page.locator('#join:enabled').waitFor();
    t.equal(await ann.page.title(), BASE_TITLE, 'the title is back');
    t.ok(await ann.page.locator('#show-mine').isHidden(), 'no "Show claw-2" any more');
    // claw-2 itself tells what happened.
    await ann.page.locator('#machines .machine-button', { hasText: 'claw-2' }).click();
    await ann.page.locator('#removed-text', { hasText: 'did not confirm in time' }).waitFor();
    await ann.page.locator('#machines .machine-button', { hasText: 'claw-3' }).click();
    await ann.page.click('#join');
    await visible(ann.page, '#phase-get_ready');
    t.pass('claw-3 can be joined, and asks Ann');
    await ann.page.click('#ready');
    await visible(ann.page, '#phase-playing');
    t.same(ann.log.errors, [], 'no errors in the page');
  });

  await t.test('phone: tone and vibration when asked, the banner while looking elsewhere, then the turn on one screen', async (t) => {
    const bob = await newPage(browser, PHONE.viewport, PHONE);
    await recordAlerts(bob.page);
    await signInTo(bob.page, system.url, 'Bob', 'claw-1');
    const sound = bob.page.getByRole('checkbox', { name: 'Sound alert' });
    t.equal(await sound.isChecked(), false, 'sound is off by default');
    await sound.tap();
    t.equal(await sound.isChecked(), true);
    await eventually(async () => (await alerts(bob.page)).tones.length > 0, 10_000, 'the toggle to play a sample beep');
    await bob.page.reload();
    await bob.page.locator('#conn.ok').waitFor();
    await bob.page.locator('#who:not([hidden])').waitFor();
    t.equal(await sound.isChecked(), true, 'the choice is remembered across a reload');

    await bob.page.locator('#machines .machine-button', { hasText: 'claw-1' }).tap();
    await bob.page.locator('#machine-title', { hasText: 'claw-1' }).waitFor();
    await bob.page.locator('#join:enabled').tap();
    await visible(bob.page, '#phase-get_ready');
    const got = await eventually(async () => { const a = await alerts(bob.page); return a.tones.length >= 2 && a.vibrations.length > 0 && a; }, 10_000, 'the tone and the vibration');
    t.ok(got.tones.filter((hz) => hz === 880).length >= 2, `two beeps (${got.tones.join(', ')} Hz)`);
    t.same(got.vibrations[0], [200, 100, 200], 'navigator.vibrate was called');

    // Looking at claw-2 instead: the banner follows, on the phone's screen.
    await bob.page.locator('#machines .machine-button', { hasText: 'claw-2' }).tap();
    await bob.page.locator('#machine-title', { hasText: 'claw-2' }).waitFor();
    await visible(bob.page, '#ready-banner');
    t.ok(await inViewport(bob.page, bob.page.locator('#ready-banner')), 'the banner is within the 360×740 screen');
    t.ok(await inViewport(bob.page, bob.page.locator('#banner-ready')), 'and so is its ready button');
    t.match(await bob.page.textContent('#banner-countdown'), /^0:\d\d$/);
    await screenshot(bob.page, 'ready-banner-phone', false);
    await bob.page.locator('#banner-ready').tap();
    await visible(bob.page, '#phase-playing');
    await bob.page.locator('#machine-title', { hasText: 'claw-1' }).waitFor();
    t.pass('I\'m ready from the banner starts the turn, and claw-1 is on screen');
    await bob.page.locator('#ready-banner').waitFor({ state: 'hidden' });
    t.equal(await bob.page.title(), '🕹 Your turn – ClawGate');

    // The turn on one screen: the whole box and the whole pad in the viewport, nothing to scroll.
    await bob.page.locator('.claw').waitFor();
    await eventually(async () => await inViewport(bob.page, bob.page.locator('#box svg')) && await inViewport(bob.page, bob.page.locator('#pad')), 10_000,
      'the box and the pad both on the 360×740 screen');
    const box = await rect(bob.page.locator('#box svg'));
    t.ok(box.width >= 150, `the box is still a useful size (${Math.round(box.width)}×${Math.round(box.height)} px)`);
    t.ok(await inViewport(bob.page, bob.page.locator('#turn-countdown')), 'the time left too');
    t.equal(await bob.page.evaluate('document.documentElement.scrollWidth <= document.documentElement.clientWidth'), true, 'no horizontal scrolling');
    await screenshot(bob.page, 'turn-phone');

    // Dark mode: DROP (white on light red was 2.28:1) meets WCAG AA.
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    const dark = await contrast(bob.page.locator('#drop'));
    t.ok(dark.ratio >= 4.5, `dark DROP contrast ${dark.ratio.toFixed(2)}:1 (${dark.color} on ${dark.background})`);
    await bob.page.emulateMedia({ colorScheme: 'light' });
    const light = await contrast(bob.page.locator('#drop'));
    t.ok(light.ratio >= 4.5, `light DROP contrast ${light.ratio.toFixed(2)}:1 (${light.color} on ${light.background})`);
    t.same(bob.log.errors, [], 'no errors in the page');
  });
});
