// The kinds of refusal a session can get for a request, and the counter each
// one is counted in. A fixed set: they are metric labels and log keys, and a
// session logs each kind once (Session.refused).
import type { LimitCounters } from './limit-counters.js';

export type RefusalKind =
  | 'not_authorized'
  | 'invalid_uri'
  | 'uri_too_long'
  | 'rate_limited'
  | 'too_many_pending_calls'
  | 'too_many_subscriptions'
  | 'too_many_registrations'
  | 'too_many_testaments'
  | 'retain_not_allowed'
  | 'retain_limit'
  | 'publication_too_large'
  | 'overloaded'
  | 'invalid_filter'
  | 'filter_error'
  | 'persistent_refused';

type Counter = { [K in keyof LimitCounters]: LimitCounters[K] extends number ? K : never }[keyof LimitCounters];

/** Where Session.refused() counts each kind (undefined: counted where it is decided, e.g. the rate limits). */
export const REFUSAL_COUNTERS: Record<RefusalKind, Counter | undefined> = {
  not_authorized: 'notAuthorized',
  invalid_uri: 'invalidUris',
  uri_too_long: 'urisTooLong',
  rate_limited: undefined,
  too_many_pending_calls: undefined,
  too_many_subscriptions: 'subscriptionsRefused',
  too_many_registrations: 'registrationsRefused',
  too_many_testaments: 'testamentsRefused',
  retain_not_allowed: 'retainRefused',
  retain_limit: 'retainRefused',
  publication_too_large: 'publicationsTooLarge',
  overloaded: 'overloadRefused',
  invalid_filter: 'invalidFilters',
  // Not a request of the session's: an event its subscription's filter could not be evaluated on (not delivered).
  filter_error: 'filterErrors',
  persistent_refused: 'persistentRefused',
};
