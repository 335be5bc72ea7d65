// The WAMP specification's machine-readable test vectors (wamp-proto
// `testsuite/`, copied read-only to ../shared/wamp-testsuite):
//   - serialization samples: decode every json/msgpack/cbor variant with the
//     router's serializers and decoder, compare with expected_attributes, and
//     re-encode to bytes equal to a listed variant;
//   - validation samples: PUBLISH/SUBSCRIBE options over a live session
//     (accepted, or ABORT protocol_violation naming the option), EVENT.Details
//     through checkEventDetails (and the EVENTs the router really sends);
//   - the publisher-exclusion transcript, replayed against a live router.
// The harness is wamp-testsuite-vectors.ts; cluster/cluster-suite.test.ts
// replays the live vectors through a balancer over three cluster nodes.
import t, { type Test } from 'tap';
import { startRouter, testConfig } from './helpers.js';
import { disclosingRealm, wampTestsuite, type LiveRealm } from './wamp-testsuite-vectors.js';

/** A router of its own per test, stopped with the test. */
async function own(t: Test, config: unknown): Promise<LiveRealm> {
  const r = await startRouter(config);
  t.teardown(() => r.stop());
  return { url: r.url, realm: 'realm1' };
}

wampTestsuite(t, {
  target: {
    plain: (t) => own(t, testConfig()),
    disclosing: (t) => own(t, testConfig({ realms: [disclosingRealm('realm1')] })),
  },
});
