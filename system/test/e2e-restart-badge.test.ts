// Issue 14: after the system is stopped with Ctrl-C (the router says GOODBYE
// with wamp.close.system_shutdown), the player's connection badge says the
// server is restarting for as long as the page keeps trying, through the
// attempts that find nobody listening, instead of "server unreachable"; and
// "Connected" once the system is back on the same port.
import t from 'tap';
import { FAST_OVERRIDES, eventually, launch, launchBrowser, newPage, signIn, sleep, tempDir } from './helpers.js';

t.setTimeout(180_000);

t.test('the badge after a shutdown GOODBYE says restarting, not unreachable', async (t) => {
  const dir = tempDir(t);
  const data = `${dir}/data`;
  const first = await launch(t, { dataDir: data, overrides: FAST_OVERRIDES });
  const port = new URL(first.url).port;
  const browser = await launchBrowser(t);
  const ann = await newPage(browser);
  await signIn(ann.page, first.url, 'Ann');

  t.equal(await first.interrupt(), 0, 'Ctrl-C: the system stops cleanly');
  await ann.page.locator('#conn', { hasText: 'server restarting' }).waitFor();
  // Sample the badge while the page retries against the closed port (backoff 0.5, 1, 2, 4 s …).
  const labels = new Set<string>();
  const until = Date.now() + 9000;
  while (Date.now() < until) {
    labels.add((await ann.page.textContent('#conn'))!.replace(/\d+ s$/, 'N s'));
    await sleep(100);
  }
  const all = [...labels];
  t.notOk(all.some((l) => /unreachable/.test(l)), `never "unreachable" (${all.join(' | ')})`);
  t.ok(all.every((l) => /server restarting|Server restarting/.test(l)), 'every label says the server is restarting');
  t.ok(all.some((l) => /Server restarting: reconnecting \(attempt [2-9]/.test(l)), 'through several refused attempts');
  t.ok(all.some((l) => /^Connection lost \(server restarting\)\. Retrying in N s$/.test(l)), 'and when the next one is');
  t.ok(await ann.page.locator('#conn.ok').isHidden(), 'never "Connected" meanwhile');

  await launch(t, { dataDir: data, overrides: FAST_OVERRIDES, args: ['--port', port] });
  await ann.page.locator('#conn.ok', { hasText: 'Connected' }).waitFor({ timeout: 60_000 });
  t.pass('connected again once the system is back');
  await eventually(async () => (await ann.page.locator('#join:enabled').count()) > 0, 30_000, 'Join enabled again');
  t.same(ann.log.errors.filter((e) => e.startsWith('pageerror')), [], 'no script errors');
});
