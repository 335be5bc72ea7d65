// Type checks for the Options/Details dicts the router reads. Unknown keys are
// allowed (the spec lets peers add their own); known keys must have the
// spec's type, or the message is a protocol violation naming the key.
import type { Dict } from './types.js';
import {
  checkBoolOpt, checkForwardFor, checkIdListOpt, checkNonNegIntOpt, checkOneOfOpt,
  checkStringListOpt, checkStringOpt, checkPassthrough, isId, fail,
} from './validate.js';

export const MATCH_POLICIES = ['exact', 'prefix', 'wildcard'] as const;
export type MatchPolicy = (typeof MATCH_POLICIES)[number];

export const INVOKE_POLICIES = ['single', 'roundrobin', 'random', 'first', 'last'] as const;
export type InvokePolicy = (typeof INVOKE_POLICIES)[number];

export const CANCEL_MODES = ['skip', 'kill', 'killnowait'] as const;
export type CancelMode = (typeof CANCEL_MODES)[number];

export function checkPublishOptions(o: Dict): void {
  const w = 'PUBLISH';
  checkBoolOpt(o, 'acknowledge', w);
  checkBoolOpt(o, 'exclude_me', w);
  checkIdListOpt(o, 'exclude', w);
  checkStringListOpt(o, 'exclude_authid', w);
  checkStringListOpt(o, 'exclude_authrole', w);
  checkIdListOpt(o, 'eligible', w);
  checkStringListOpt(o, 'eligible_authid', w);
  checkStringListOpt(o, 'eligible_authrole', w);
  checkBoolOpt(o, 'retain', w);
  checkBoolOpt(o, 'disclose_me', w);
  checkStringOpt(o, 'transaction_hash', w);
  checkForwardFor(o, w);
}

/**
 * SUBSCRIBE.Options key of an event filter (ClawGate extension,
 * broker/content-filter.ts). Not checked here: a filter that is not a
 * string, or not a valid one, gets ERROR wamp.error.invalid_option from the
 * broker and the session goes on, where a known option of the wrong type
 * is a protocol violation.
 */
export const FILTER_OPTION = 'x_filter';

export function checkSubscribeOptions(o: Dict): void {
  const w = 'SUBSCRIBE';
  checkOneOfOpt(o, 'match', MATCH_POLICIES, w);
  checkBoolOpt(o, 'get_retained', w);
  checkForwardFor(o, w);
}

export function checkRegisterOptions(o: Dict): void {
  const w = 'REGISTER';
  checkOneOfOpt(o, 'match', MATCH_POLICIES, w);
  checkOneOfOpt(o, 'invoke', INVOKE_POLICIES, w);
  checkBoolOpt(o, 'disclose_caller', w);
  checkForwardFor(o, w);
}

export function checkCallOptions(o: Dict): void {
  const w = 'CALL';
  checkNonNegIntOpt(o, 'timeout', w);
  checkBoolOpt(o, 'receive_progress', w);
  checkBoolOpt(o, 'disclose_me', w);
  checkBoolOpt(o, 'progress', w);
  checkForwardFor(o, w);
}

export function checkCancelOptions(o: Dict): void {
  checkOneOfOpt(o, 'mode', CANCEL_MODES, 'CANCEL');
}

export function checkYieldOptions(o: Dict): void {
  checkBoolOpt(o, 'progress', 'YIELD');
}

/** EVENT.Details as a subscriber may check them (used to type-check what we send). */
export function checkEventDetails(d: Dict): void {
  const w = 'EVENT';
  if (d.publisher !== undefined && !isId(d.publisher)) fail(`${w} detail "publisher"`, 'a session id', d.publisher);
  checkStringOpt(d, 'publisher_authid', w);
  checkStringOpt(d, 'publisher_authrole', w);
  checkStringOpt(d, 'topic', w);
  checkBoolOpt(d, 'retained', w);
  checkStringOpt(d, 'transaction_hash', w);
  checkBoolOpt(d, 'x_acknowledged_delivery', w);
  checkForwardFor(d, w);
  checkPassthrough(d, w);
}
