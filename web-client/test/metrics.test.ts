import t from 'tap';
import { parseSample, routerNumbers } from '../src/logic/metrics.js';

t.test('samples', async (t) => {
  t.same(parseSample('clawgate_sessions{realm="claw",role="player"} 3'), { name: 'clawgate_sessions', value: 3 });
  t.same(parseSample('clawgate_connections 7 1700000000000'), { name: 'clawgate_connections', value: 7 });
  t.same(parseSample('x{a="with } brace and \\" quote"} 1.5e3'), { name: 'x', value: 1500 });
  t.equal(parseSample('# HELP clawgate_sessions Established'), undefined);
  t.equal(parseSample('garbage'), undefined);
  t.equal(parseSample('x NaNish'), undefined);
});

t.test('router numbers: sums over labels; absent series stay undefined', async (t) => {
  const text = [
    '# HELP clawgate_sessions Established WAMP sessions, by realm and role',
    '# TYPE clawgate_sessions gauge',
    'clawgate_sessions{realm="claw",role="player"} 2',
    'clawgate_sessions{realm="claw",role="backend"} 1',
    'clawgate_messages_received_total{type="CALL"} 10',
    'clawgate_messages_received_total{type="PUBLISH"} 5',
    'clawgate_messages_sent_total{type="EVENT"} 100',
    'clawgate_errors_total{uri="wamp.error.not_authorized"} 4',
  ].join('\n');
  t.same(routerNumbers(text), { sessions: 3, messages: 115 });
  t.same(routerNumbers('other_metric 1\n'), { sessions: undefined, messages: undefined });
  t.same(routerNumbers(''), { sessions: undefined, messages: undefined });
});
