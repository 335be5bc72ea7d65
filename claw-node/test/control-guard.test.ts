// The control guard on its own: what passes, what is dropped and why, and
// that drops are counted and logged once per publisher and reason, in bounded memory.
import t from 'tap';
import { DropLedger, MAX_CONTROL_FIELDS, screenControl } from '../src/machine/control-guard.js';

t.test('what a page sends passes; anything else is oversized or malformed', async (t) => {
  t.equal(screenControl([{ command: 'leftOn' }], undefined), 'ok');
  t.equal(screenControl([{ command: 'leftOn' }], {}), 'ok', 'autobahn gives empty kwargs as {}');
  t.equal(screenControl([{ command: 'leftOn', seq: 7, client: 'page/2' }], undefined), 'ok', 'a few flat extra fields (objects are passthrough)');
  t.equal(screenControl([{ command: 'fire' }], undefined), 'ok', 'an unknown command is for zod to refuse (and counted as invalid)');

  t.equal(screenControl(undefined, undefined), 'malformed', 'no args');
  t.equal(screenControl([], undefined), 'malformed');
  t.equal(screenControl(['leftOn'], undefined), 'malformed', 'not an object');
  t.equal(screenControl([[{ command: 'leftOn' }]], undefined), 'malformed', 'an array');
  t.equal(screenControl([null], undefined), 'malformed');
  t.equal(screenControl([{ command: 7 }], undefined), 'malformed');
  t.equal(screenControl([{}], undefined), 'malformed', 'no command');
  t.equal(screenControl([{ command: 'leftOn', extra: { deep: [1, 2, 3] } }], undefined), 'malformed', 'a nested object');
  t.equal(screenControl([{ command: 'leftOn', extra: [] }], undefined), 'malformed', 'a nested array');

  t.equal(screenControl([{ command: 'leftOn' }, { command: 'rightOn' }], undefined), 'oversized', 'more than one argument');
  t.equal(screenControl([{ command: 'leftOn' }], { a: 1 }), 'oversized', 'kwargs');
  t.equal(screenControl([{ command: 'x'.repeat(17) }], undefined), 'oversized', 'a long command');
  t.equal(screenControl([{ command: 'leftOn', note: 'x'.repeat(65) }], undefined), 'oversized', 'a long string anywhere');
  const many = Object.fromEntries(Array.from({ length: MAX_CONTROL_FIELDS }, (_, i) => [`f${i}`, i]));
  t.equal(screenControl([{ command: 'leftOn', ...many }], undefined), 'oversized', 'too many fields');
  t.equal(screenControl([{ command: 'x'.repeat(1_000_000) }], undefined), 'oversized', 'a megabyte command costs one length check');
});

t.test('drops are counted; logged once per publisher and reason; bounded', async (t) => {
  const lines: { msg: string; extra: Record<string, unknown> }[] = [];
  const ledger = new DropLedger((msg, extra) => lines.push({ msg, extra }), 3);
  for (let i = 0; i < 100; i++) ledger.drop('oversized', 'pmallory');
  ledger.drop('malformed', 'pmallory');
  ledger.drop('malformed', 'pmallory');
  t.same(ledger.dropped, { oversized: 100, malformed: 2 });
  t.same(lines.map((l) => l.extra), [{ reason: 'oversized', publisher: 'pmallory' }, { reason: 'malformed', publisher: 'pmallory' }]);
  ledger.drop('oversized', 'peve');
  for (let i = 0; i < 50; i++) ledger.drop('oversized', `p${i}`);
  t.equal(lines.length, 4, 'three publisher/reason pairs logged, then one line saying logging stopped');
  t.match(lines[3]!.msg, /too many publishers/);
  t.equal(ledger.dropped.oversized, 151);
});
