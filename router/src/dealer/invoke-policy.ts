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
