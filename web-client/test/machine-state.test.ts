// The state a machine is shown in, and what the pages know about a pause.
import t from 'tap';
import { nodeState, pausedAfter, shownState } from '../src/logic/machine-state.js';

t.test('pausedAfter: an explicit field wins; `paused` and `ready` are definite; the rest keeps what was known', async (t) => {
  t.equal(pausedAfter(false, { state: 'controlled', paused: true }), true, 'paused during a turn (backend field)');
  t.equal(pausedAfter(true, { state: 'paused', paused: false }), false, 'the field wins over the state');
  t.equal(pausedAfter(false, { state: 'paused' }), true);
  t.equal(pausedAfter(true, { state: 'ready' }), false, 'the backend shows `paused` whenever a paused machine is ready');
  t.equal(pausedAfter(true, { state: 'controlled' }), true, 'during a turn `state` says nothing: keep');
  t.equal(pausedAfter(false, { state: 'controlled' }), false);
  t.equal(pausedAfter(true, { state: 'offline' }), true);
  t.equal(pausedAfter(false, { state: 'controlled', paused: 'yes' }), false, 'a non-boolean field is ignored');
});

t.test('shownState: offline and maintenance first, then pause, then the node', async (t) => {
  t.equal(shownState('controlled', true), 'paused');
  t.equal(shownState('ready', false), 'ready');
  t.equal(shownState('offline', true), 'offline');
  t.equal(shownState('maintenance', true), 'maintenance');
  t.equal(nodeState(undefined, 'paused', 'offline'), 'ready', 'the backend\'s `paused` means the node is ready');
  t.equal(nodeState('controlled', 'ready', 'ready'), 'controlled', 'the node\'s own status first');
  t.equal(nodeState(undefined, undefined, 'offline'), 'offline');
});
