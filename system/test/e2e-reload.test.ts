// A reload while waiting keeps the place: the ticket cookie gives the same
// authid back, the backend held the place through its grace period, and the
// reloaded page reclaims it (request_slot is idempotent) without a duplicate.
import t from 'tap';
import { FAST_OVERRIDES, launch, launchBrowser, newPage, signIn, tempDir, visible } from './helpers.js';

t.setTimeout(120_000);

t.test('a reload while waiting keeps the place', async (t) => {
  const dir = tempDir(t);
  const system = await launch(t, { dataDir: `${dir}/data`, overrides: FAST_OVERRIDES });
  const browser = await launchBrowser(t);
  const cy = await newPage(browser);
  const dee = await newPage(browser);
  const eve = await newPage(browser);
  for (const [p, name] of [[cy, 'Cy'], [dee, 'Dee'], [eve, 'Eve']] as const) await signIn(p.page, system.url, name);

  // Cy is asked first (and does not answer yet), so Dee and Eve stay waiting.
  await cy.page.click('#join');
  await visible(cy.page, '#phase-get_ready');
  await dee.page.click('#join');
  await visible(dee.page, '#phase-waiting');
  await eve.page.click('#join');
  await visible(eve.page, '#phase-waiting');
  t.equal(await eve.page.getAttribute('#phase-waiting', 'data-position'), '2', 'Eve is third');

  await eve.page.reload();
  await visible(eve.page, '#phase-waiting');
  await eve.page.locator('#phase-waiting[data-position="2"]').waitFor();
  t.match(await eve.page.textContent('#who'), /Eve/, 'still Eve after the reload');
  // Exactly one Eve in the queue: the reload reclaimed the place, it did not join again.
  await eve.page.locator('#waiting li').nth(2).waitFor();
  const names = await eve.page.locator('#waiting li').allTextContents();
  t.same(names, ['Cy', 'Dee', 'Eve'], 'queue order unchanged, no duplicate');
  t.equal(await eve.page.locator('#waiting li.me').textContent(), 'Eve', 'her own row is marked');

  // The queue moves on and reaches the reloaded page.
  await cy.page.click('#ready');
  await dee.page.locator('#phase-waiting[data-position="0"]').waitFor();
  await eve.page.locator('#phase-waiting[data-position="1"]').waitFor();
  t.pass('positions move up on the reloaded page');
});
