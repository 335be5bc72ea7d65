// The pages across a restart of the whole system (router, backend, claws) on
// the same port and data dir: while it is down the connection badge says so
// and when it retries; when it is back both pages reconnect on their own,
// keep their identity and their places (SQLite + the grace period), and the
// player being asked can still confirm and play.
import t from 'tap';
import { FAST_OVERRIDES, launch, launchBrowser, newPage, signIn, tempDir, visible } from './helpers.js';

t.setTimeout(120_000);

const OVERRIDES = { ...FAST_OVERRIDES, backend: { ...FAST_OVERRIDES.backend, defaults: { moveSeconds: 20, readyWindowSeconds: 90, graceSeconds: 90 } } };

t.test('restart: honest connection state, automatic reconnect, places kept', async (t) => {
  const dir = tempDir(t);
  const data = `${dir}/data`;
  const first = await launch(t, { dataDir: data, overrides: OVERRIDES });
  const port = new URL(first.url).port;
  const browser = await launchBrowser(t);
  const cy = await newPage(browser);
  const dee = await newPage(browser);
  await signIn(cy.page, first.url, 'Cy');
  await signIn(dee.page, first.url, 'Dee');
  await cy.page.click('#join');
  await visible(cy.page, '#phase-get_ready');
  await dee.page.click('#join');
  await visible(dee.page, '#phase-waiting');
  await dee.page.locator('#phase-waiting[data-position="1"]').waitFor();

  t.equal(await first.interrupt(), 0, 'the system stops cleanly');
  // Down: the badge says the connection is lost and when the next attempt is.
  await dee.page.locator('#conn.bad', { hasText: /Connection lost \(.+\)\. Retrying in \d+ s/ }).waitFor();
  t.match(await dee.page.textContent('#conn'), /server restarting|server unreachable|connection dropped/, 'the reason is said');
  t.ok(await dee.page.locator('#phase-waiting').isVisible(), 'the page still shows the place it holds');

  const second = await launch(t, { dataDir: data, overrides: OVERRIDES, args: ['--port', port] });
  t.equal(second.url, first.url, 'same URL after the restart');
  await dee.page.locator('#conn.ok', { hasText: 'Connected' }).waitFor({ timeout: 45_000 });
  await cy.page.locator('#conn.ok', { hasText: 'Connected' }).waitFor({ timeout: 45_000 });
  t.pass('both pages reconnected by themselves');

  await dee.page.locator('#phase-waiting[data-position="1"]').waitFor();
  t.match(await dee.page.textContent('#who'), /Dee/, 'Dee is still Dee');
  await dee.page.locator('#waiting li').nth(1).waitFor();
  t.same(await dee.page.locator('#waiting li').allTextContents(), ['Cy', 'Dee'], 'the queue survived the restart, no duplicates');

  // Cy is asked again after the restart and can play.
  await visible(cy.page, '#phase-get_ready', 45_000);
  await cy.page.click('#ready');
  await visible(cy.page, '#phase-playing', 45_000);
  await dee.page.locator('#phase-waiting[data-position="0"]').waitFor();
  t.pass('the turn starts and Dee moves to the front');

  t.equal(await second.interrupt(), 0, 'second stop: exit 0');
  // Pages only log autobahn's own console.warn lines for closed connections; no script errors.
  t.same([...cy.log.errors, ...dee.log.errors].filter((e) => e.startsWith('pageerror')), [], 'no script errors');
});
