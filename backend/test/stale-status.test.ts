// The backend's decision to drop a lost session's stale testament (machines/stale-status.ts).
import t from 'tap';
import { isStaleTestament } from '../src/machines/stale-status.js';

t.test('an offline testament older than the status held is stale while start_turn is registered', async (t) => {
  const ready = { state: 'ready' as const, since: 2000 };
  t.equal(isStaleTestament(ready, { state: 'offline', since: 1000 }, true), true, 'the old session\'s testament after the new session\'s ready: dropped');
  t.equal(isStaleTestament({ state: 'controlled', since: 3000 }, { state: 'offline', since: 1000 }, true), true, 'also during a turn');
  t.equal(isStaleTestament(ready, { state: 'offline', since: 2000 }, true), false, 'same since: taken');
  t.equal(isStaleTestament(ready, { state: 'offline', since: 2500 }, true), false, 'a newer offline (the current session\'s testament): taken');
  t.equal(isStaleTestament(ready, { state: 'offline', since: 1000, reason: 'stopped' }, true), false, 'the node\'s own offline (a reason): taken');
  t.equal(isStaleTestament(ready, { state: 'maintenance', since: 1000 }, true), false, 'only offline');
  t.equal(isStaleTestament(ready, { state: 'ready', since: 1000 }, true), false, 'an older ready is no testament');
  t.equal(isStaleTestament(undefined, { state: 'offline', since: 1000 }, true), false, 'nothing held: taken');
  t.equal(isStaleTestament(ready, { state: 'offline', since: 1000 }, false), false, 'no registration: the machine is gone, the testament is taken');
});
