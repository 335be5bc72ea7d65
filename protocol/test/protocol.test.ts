// The protocol module's decisions: which ids and names are legal, how machine
// URIs are built and parsed, and that payload schemas accept the contract's
// examples and refuse what breaks it.
import t from 'tap';
import {
  isUriComponent, isValidName, nameProblem, graphemes, approximateGraphemes, machineUris, machineOf, playerTopic, PlayerMessage, ControlPayload,
  LinesPayload, StatusPayload, QueueSnapshot, SessionRequest, Procedures, ClawErrors, AnswerArgs,
} from '../src/index.js';

t.test('ids are strict URI components', async (t) => {
  for (const ok of ['claw-1', 'p_abc123', '0', 'a'.repeat(64)]) t.ok(isUriComponent(ok), ok);
  for (const bad of ['', 'Claw1', 'a.b', 'a b', 'a#', 'ü', 'a'.repeat(65)]) t.notOk(isUriComponent(bad), JSON.stringify(bad));
});

t.test('display names', async (t) => {
  for (const ok of ['Ann', 'Zoë 🙂', 'x'.repeat(24)]) t.ok(isValidName(ok), ok);
  for (const bad of ['', '   ', 'x'.repeat(25), 'a\nb', 'a\u0000', 'a\u202Eb', 42, null]) t.notOk(isValidName(bad), JSON.stringify(bad));
  t.notOk(SessionRequest.safeParse({ name: '' }).success);
});

t.test('display names are counted as people count characters (grapheme clusters), with an exact reason', async (t) => {
  const family = '👩‍👩‍👧'; // 5 code points joined by zero width joiners: one character
  const familyTones = '👩🏽‍👩🏽‍👧🏽‍👦🏽'; // 11 code points
  const england = '🏴󠁧󠁢󠁥󠁮󠁧󠁿'; // a subdivision flag: tag characters
  for (const ok of [family, familyTones, england, `Mum ${family}`, family.repeat(24), 'می\u200Cخواهم', 'e\u0301'.repeat(24)]) {
    t.equal(nameProblem(ok), undefined, `${JSON.stringify(ok)} is valid`);
  }
  t.equal(graphemes(family).length, 1, 'a family emoji is one character');
  for (const n of [family, familyTones, england, 'Zoë 🙂', 'e\u0301x', 'ab']) {
    t.same(approximateGraphemes(n), graphemes(n), `without Intl.Segmenter: ${JSON.stringify(n)} counted the same`);
  }
  t.equal(nameProblem(family.repeat(25)), 'the name is 25 characters long (at most 24)', 'the 24 limit counts what people see');
  t.equal(nameProblem('x'.repeat(30)), 'the name is 30 characters long (at most 24)');
  t.match(nameProblem('a\u202Eb'), /invisible formatting character \(U\+202E\)/, 'text direction controls are refused, and said so');
  t.match(nameProblem('\u200Dab'), /invisible formatting character \(U\+200D\)/, 'a joiner that joins nothing');
  t.match(nameProblem('\u00ADab'), /U\+00AD/, 'soft hyphen');
  t.equal(nameProblem('a\nb'), 'the name contains a control character or a line break');
  t.equal(nameProblem('  '), 'the name is empty (or only spaces)');
  t.match(nameProblem('a' + '\u0301'.repeat(40)), /made of 41 code points \(at most 16\)/, 'a stack of combining marks is one character, bounded');
  t.equal(nameProblem(42), 'the name must be text');
  const r = SessionRequest.safeParse({ name: 'a\u202Eb' });
  t.notOk(r.success);
  t.match(!r.success && r.error.issues[0]!.message, /invisible formatting character/, 'the schema carries the reason');
});

t.test('machine URIs round-trip', async (t) => {
  const u = machineUris('claw-1');
  t.equal(u.startTurn, 'claw.machine.claw-1.start_turn');
  t.equal(u.control('p_1'), 'claw.machine.claw-1.control.p_1');
  t.ok(u.control('p_1').startsWith(u.controlPrefix));
  t.equal(machineOf(u.startTurn, 'start_turn'), 'claw-1');
  t.equal(machineOf(u.status), 'claw-1');
  t.equal(machineOf(u.status, 'start_turn'), undefined);
  t.equal(machineOf('claw.machine..status'), undefined);
  t.equal(machineOf('claw.player.x'), undefined);
  t.equal(playerTopic('p_1'), 'claw.player.p_1');
  t.equal(Procedures.requestSlot, 'claw.queue.request_slot');
  t.equal(ClawErrors.queueFull, 'claw.error.queue_full');
});

t.test('payload schemas', async (t) => {
  t.ok(ControlPayload.safeParse({ command: 'upOn' }).success);
  t.notOk(ControlPayload.safeParse({ command: 'upup' }).success);
  t.ok(StatusPayload.safeParse({ state: 'ready', since: 1 }).success);
  t.notOk(StatusPayload.safeParse({ state: 'broken', since: 1 }).success);
  const levels = { up: false, down: false, left: true, right: false, drop: false, coin: false };
  t.ok(LinesPayload.safeParse({ outputs: levels, inputs: { prize: false } }).success);
  t.notOk(LinesPayload.safeParse({ outputs: { up: true }, inputs: { prize: false } }).success, 'all outputs required');
  t.ok(QueueSnapshot.safeParse({ machine: 'claw-1', state: 'ready', current: null, waiting: [{ name: 'Ann', position: 0 }] }).success);
  t.ok(PlayerMessage.safeParse({ type: 'control', control: true, machine: 'claw-1', topic: 't', endsAt: 5 }).success);
  t.ok(PlayerMessage.safeParse({ type: 'control', control: false, machine: 'claw-1', result: 'win' }).success);
  t.notOk(PlayerMessage.safeParse({ type: 'control', control: false, machine: 'claw-1', result: 'maybe' }).success);
  t.ok(PlayerMessage.safeParse({ type: 'position', machine: 'claw-1', position: 2, etaSeconds: 60 }).success);
});

t.test('video: an answer must be plain SDP before it reaches the media server', async (t) => {
  // What Chromium answers to Janus's offer (shortened; system/test/e2e-video.test.ts answers with the real thing).
  const chromium = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE v\r\n'
    + 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Xy/+\r\na=fingerprint:sha-256 AB:CD:EF\r\na=setup:active\r\na=mid:v\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n';
  const ok = (sdp: string) => AnswerArgs.safeParse({ viewer: 'v1', answer: { type: 'answer', sdp } }).success;
  t.ok(ok(chromium), 'a browser\'s answer');
  t.ok(ok('v=0\ns=-\nt=0 0'), 'LF line ends, no final one');
  t.notOk(ok('o=- 1 1 IN IP4 127.0.0.1\r\nv=0\r\n'), 'v=0 first');
  t.notOk(ok(chromium + 'a=x\u0000y\r\n'), 'no control characters');
  t.notOk(ok(chromium + 'a=caf\u00e9\r\n'), 'ASCII only');
  t.notOk(ok(chromium + 'junk\r\n'), 'every line <letter>=…');
  t.notOk(ok(chromium + '\r\n\r\n'), 'no empty lines');
  t.notOk(ok('v=0\r\n' + 'a=x\r\n'.repeat(5000)), 'at most MAX_SDP_BYTES');
  const r = AnswerArgs.safeParse({ viewer: 'v1', answer: { type: 'answer', sdp: 'hello' } });
  t.match(!r.success && r.error.issues[0], { path: ['answer', 'sdp'], message: /not SDP as a browser writes it/ }, 'a clear error, by key');
});
