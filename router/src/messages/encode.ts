import type { Payload, WampMessage } from './types.js';

/** Appends args/kwargs (or the passthrough payload) the way the spec wants: omit trailing empties. */
function withPayload(head: unknown[], p: Payload): unknown[] {
  if (p.payload !== undefined) {
    head.push(p.payload);
  } else if (p.kwargs !== undefined && p.kwargs !== null) {
    head.push(p.args ?? [], p.kwargs);
  } else if (p.args !== undefined && p.args !== null) {
    head.push(p.args);
  }
  return head;
}

/** Typed message → wire array (the shape every serializer encodes). */
export function toWire(m: WampMessage): unknown[] {
  switch (m.type) {
    case 1: return [1, m.realm, m.details];
    case 2: return [2, m.session, m.details];
    case 3: return [3, m.details, m.reason];
    case 4: return [4, m.authmethod, m.extra];
    case 5: return [5, m.signature, m.extra];
    case 6: return [6, m.details, m.reason];
    case 8: return withPayload([8, m.requestType, m.request, m.details, m.error], m);
    case 16: return withPayload([16, m.request, m.options, m.topic], m);
    case 17: return [17, m.request, m.publication];
    case 32: return [32, m.request, m.options, m.topic];
    case 33: return [33, m.request, m.subscription];
    case 34: return [34, m.request, m.subscription];
    case 35: return m.details ? [35, m.request, m.details] : [35, m.request];
    case 36: return withPayload([36, m.subscription, m.publication, m.details], m);
    case 48: return withPayload([48, m.request, m.options, m.procedure], m);
    case 49: return [49, m.request, m.options];
    case 50: return withPayload([50, m.request, m.details], m);
    case 64: return [64, m.request, m.options, m.procedure];
    case 65: return [65, m.request, m.registration];
    case 66: return [66, m.request, m.registration];
    case 67: return m.details ? [67, m.request, m.details] : [67, m.request];
    case 68: return withPayload([68, m.request, m.registration, m.details], m);
    case 69: return [69, m.request, m.options];
    case 70: return withPayload([70, m.request, m.options], m);
    case 337: {
      const head: unknown[] = [337, m.publication];
      if (m.details !== undefined || m.args !== undefined || m.kwargs !== undefined || m.payload !== undefined) {
        head.push(m.details ?? {});
      }
      return withPayload(head, m);
    }
  }
}
