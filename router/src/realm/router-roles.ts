// WELCOME.Details.roles: exactly the advanced features this router
// implements and tests. Keep in step with docs/router.md's feature table.
import type { Dict } from '../messages/types.js';

export function routerRoles(): Dict {
  return {
    broker: {
      features: {
        publisher_identification: true,
        publisher_exclusion: true,
        subscriber_blackwhite_listing: true,
        pattern_based_subscription: true,
        event_retention: true,
        session_meta_api: true,
        subscription_meta_api: true,
        // UNSUBSCRIBED with request 0, sent when wamp.subscription.remove_subscriber takes a subscription.
        subscription_revocation: true,
        payload_passthru_mode: true,
        // ClawGate: SUBSCRIBE.Options.x_filter, a CEL expression over the event (broker/content-filter.ts).
        x_content_filter: true,
        // ClawGate: SUBSCRIBE.Options.x_persistent, a subscription of (authid, name) that keeps events while no session holds it (broker/persistent-subscriptions.ts).
        x_persistent_subscription: true,
      },
    },
    dealer: {
      features: {
        caller_identification: true,
        pattern_based_registration: true,
        shared_registration: true,
        call_timeout: true,
        call_canceling: true,
        progressive_call_results: true,
        // CALLs with progress: true, chunks routed to the first chunk's callee (dealer.ts).
        progressive_call_invocations: true,
        session_meta_api: true,
        registration_meta_api: true,
        // UNREGISTERED with request 0, sent when a force_reregister or wamp.registration.remove_callee takes a registration.
        registration_revocation: true,
        testament_meta_api: true,
        payload_passthru_mode: true,
      },
    },
  };
}
