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
  private wrapped = false;
  next(): number {
    if (this.last >= MAX_ID) { this.last = 1; this.wrapped = true; } else this.last++;
    return this.last;
  }

  /**
   * Has `id` been handed out? The sequence is its own memory of every id
   * issued: ids up to the last one were, later ones were not (after a wrap
   * at 2^53, every id was). No per-id state, however many were issued.
   */
  issued(id: number): boolean {
    return id >= 1 && (this.wrapped || id <= this.last);
  }
}
