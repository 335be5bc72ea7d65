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

  // Every label and attempt number the badge shows from now on (a connecting label may last less than a frame: the attempt number stays).
  await ann.page.evaluate(`(() => {
    const el = document.getElementById('conn');
    window.__badge = [];
    new MutationObserver(() => window.__badge.push({ label: el.textContent, attempt: el.dataset.attempt }))
      .observe(el, { childList: true, characterData: true, subtree: true, attributes: true });
  })()`);
  t.equal(await first.interrupt(), 0, 'Ctrl-C: the system stops cleanly');
  await ann.page.locator('#conn', { hasText: 'server restarting' }).waitFor();
  // The page retries against the closed port (backoff 0.5, 1, 2, 4 s …) for 9 s.
  await sleep(9000);
  const all = await ann.page.evaluate('window.__badge') as { label: string; attempt: string }[];
  // From the GOODBYE on (the observer also saw the page redraw "Connected" before it).
  const seen = all.slice(all.findIndex((s) => /restarting/i.test(s.label)));
  const labels = [...new Set(seen.map((s) => s.label.replace(/\d+ s$/, 'N s')))];
  t.notOk(labels.some((l) => /unreachable/.test(l)), `never "unreachable" (${labels.join(' | ')})`);
  t.ok(labels.every((l) => /server restarting|Server restarting/.test(l)), 'every label says the server is restarting');
  t.ok(labels.some((l) => /^Connection lost \(server restarting\)\. Retrying in N s$/.test(l)), 'and when the next attempt is');
  const attempts = Math.max(...seen.map((s) => Number(s.attempt) || 0));
  t.ok(attempts >= 3, `through several refused attempts (${attempts})`);
  t.ok(await ann.page.locator('#conn.ok').isHidden(), 'never "Connected" meanwhile');

  await launch(t, { dataDir: data, overrides: FAST_OVERRIDES, args: ['--port', port] });
  await ann.page.locator('#conn.ok', { hasText: 'Connected' }).waitFor({ timeout: 60_000 });
  t.pass('connected again once the system is back');
  await eventually(async () => (await ann.page.locator('#join:enabled').count()) > 0, 30_000, 'Join enabled again');
  t.same(ann.log.errors.filter((e) => e.startsWith('pageerror')), [], 'no script errors');
});
