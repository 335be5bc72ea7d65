// What a client announced in HELLO.Details.roles, reduced to the flags the
// router acts on (whether a callee understands INTERRUPT, and so on).
import type { Dict } from '../messages/types.js';

export interface ClientFeatures {
  callee: boolean;
  caller: boolean;
  publisher: boolean;
  subscriber: boolean;
  calleeCallCanceling: boolean;
  calleeProgressiveResults: boolean;
  /** UNREGISTERED with request 0 tells it a registration was taken away (force_reregister). */
  calleeRegistrationRevocation: boolean;
  /** UNSUBSCRIBED with request 0 tells it a subscription was taken away (wamp.subscription.remove_subscriber). */
  subscriberSubscriptionRevocation: boolean;
  callerProgressiveResults: boolean;
  /** It may send CALLs with progress: true (progressive call invocations). */
  callerProgressiveInvocations: boolean;
  /** It takes INVOCATIONs with progress: true (with call canceling, as the spec requires). */
  calleeProgressiveInvocations: boolean;
}

function feature(roles: Dict, role: string, name: string): boolean {
  const r = roles[role];
  if (typeof r !== 'object' || r === null) return false;
  const f = (r as Dict).features;
  return typeof f === 'object' && f !== null && (f as Dict)[name] === true;
}

export function clientFeatures(roles: Dict): ClientFeatures {
  return {
    callee: roles.callee !== undefined,
    caller: roles.caller !== undefined,
    publisher: roles.publisher !== undefined,
    subscriber: roles.subscriber !== undefined,
    calleeCallCanceling: feature(roles, 'callee', 'call_canceling'),
    calleeProgressiveResults: feature(roles, 'callee', 'progressive_call_results'),
    calleeRegistrationRevocation: feature(roles, 'callee', 'registration_revocation'),
    subscriberSubscriptionRevocation: feature(roles, 'subscriber', 'subscription_revocation'),
    callerProgressiveResults: feature(roles, 'caller', 'progressive_call_results'),
    callerProgressiveInvocations: feature(roles, 'caller', 'progressive_call_invocations'),
    calleeProgressiveInvocations: feature(roles, 'callee', 'progressive_call_invocations'),
  };
}
