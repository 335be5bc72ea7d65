// Only players' sessions are looked up for queue places (issue 13): before,
// every session that joined or left the realm, anonymous spectators included,
// cost the backend a query of that authid's places, so a flood of anonymous
// sessions was a flood of database reads in the process that runs the router
// too. Counted at the repository, over real sockets.
import t from 'tap';
import { Procedures, type SlotResult } from '@clawgate/protocol';
import type { Repository } from '../src/db/repository.js';
import { holdsPlaces } from '../src/turns/coordinator.js';
import { connectOperator, connectSpectator, eventually, setup } from './helpers.js';

t.test('holdsPlaces', async (t) => {
  t.ok(holdsPlaces('player'));
  t.ok(holdsPlaces(undefined), 'a router that does not say the role: looked up, as before');
  for (const role of ['spectator', 'operator', 'claw', 'backend']) t.notOk(holdsPlaces(role), role);
});

t.test('spectators and operators joining and leaving cost no lookup of places; players do', async (t) => {
  const { r, backend, player } = await setup(t, ['claw-1']);
  const repo = (backend.coordinator as unknown as { repo: Repository }).repo;
  const original = repo.entriesOf.bind(repo);
  const looked: string[] = [];
  repo.entriesOf = (authid: string) => { looked.push(authid); return original(authid); };

  const others = await Promise.all([
    ...Array.from({ length: 20 }, () => connectSpectator(r.url)),
    connectOperator(r.url),
  ]);
  await Promise.all(others.map((o) => o.close()));
  // Give the backend time to hear the 42 joins and leaves.
  const alice = await player('Alice');
  const slot = await alice.call(Procedures.requestSlot, ['claw-1']) as SlotResult;
  t.equal(slot.position, 0, 'the queue works');
  await eventually(() => looked.includes(alice.authid), 10_000, 'Alice\'s join looked up her places');
  t.same(looked.filter((a) => a !== alice.authid), [], 'no lookup for the 20 spectators and the operator');
});
