// Which callee of a shared registration gets the next invocation.
import type { InvokePolicy } from '../messages/options.js';

export function pickCallee<T>(reg: { readonly invoke: InvokePolicy; readonly callees: readonly T[]; roundRobin: number }): T {
  const callees = reg.callees;
  switch (reg.invoke) {
    case 'single':
    case 'first':
      return callees[0]!;
    case 'last':
      return callees[callees.length - 1]!;
    case 'random':
      return callees[Math.floor(Math.random() * callees.length)]!;
    case 'roundrobin': {
      const i = reg.roundRobin % callees.length;
      reg.roundRobin = i + 1;
      return callees[i]!;
    }
  }
}

/**
 * Another callee for a call whose invocation could not be delivered to the
 * callees in `tried` (cluster: their node no longer listens), in the
 * policy's order; undefined when none is left or the registration is
 * `single` (it has one callee).
 */
export function pickOther<T>(reg: { readonly invoke: InvokePolicy; readonly callees: readonly T[]; roundRobin: number }, tried: readonly T[]): T | undefined {
  const left = reg.callees.filter((c) => !tried.includes(c));
  if (left.length === 0 || reg.invoke === 'single') return undefined;
  switch (reg.invoke) {
    case 'first':
      return left[0];
    case 'last':
      return left[left.length - 1];
    case 'random':
      return left[Math.floor(Math.random() * left.length)];
    case 'roundrobin':
      // The next in the rotation that was not tried (the rotation moves on past it, as for any call).
      for (;;) {
        const c = pickCallee(reg);
        if (!tried.includes(c)) return c;
      }
  }
}
