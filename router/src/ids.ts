// WAMP id scopes (spec §"IDs"): global ids are random so they can't be
// guessed or correlated; router and session scopes only need uniqueness.
import { MAX_ID } from './messages/validate.js';

/** Global scope: random in [1, 2^53]. */
export function randomId(): number {
  return Math.floor(Math.random() * MAX_ID) + 1;
}

/** Router or session scope: 1, 2, 3, ... wrapping at 2^53. */
export class IdSequence {
  private last = 0;
  next(): number {
    this.last = this.last >= MAX_ID ? 1 : this.last + 1;
    return this.last;
  }
}
