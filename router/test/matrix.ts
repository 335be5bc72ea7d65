// The client matrix the broker and dealer suites run every case over:
// WebSocket with JSON, MessagePack and CBOR, and RawSocket with JSON; a
// router config with three roles, each reachable on its own WebSocket path
// and RawSocket port; and the fixture that opens autobahn-js sessions and
// wire-level clients (wire.ts, encoding with autobahn's serializers) on it
// and closes them when the test ends.
import type { Action } from '../src/auth/permissions.js';
import { connect, sleep, startRouter, testConfig, type AutobahnConnection, type AutobahnSession, type RunningRouter, type SerializerName } from './helpers.js';
import { Wire } from './wire.js';

export interface Variant { name: string; serializer: SerializerName; rawsocket: boolean }
export const VARIANTS: readonly Variant[] = [
  { name: 'websocket/json', serializer: 'json', rawsocket: false },
  { name: 'websocket/msgpack', serializer: 'msgpack', rawsocket: false },
  { name: 'websocket/cbor', serializer: 'cbor', rawsocket: false },
  { name: 'rawsocket/json', serializer: 'json', rawsocket: true },
];
export const binaryCapable = (v: Variant): boolean => v.serializer !== 'json';

export const ALL: Record<Action, boolean> = { call: true, register: true, publish: true, subscribe: true };

/**
 * How long to wait for something that should arrive. Generous: on a loaded
 * machine this process can be descheduled for a second or two; a wait only
 * lasts this long when the test is failing anyway.
 */
export const WAIT_MS = 10_000;

/** What the wire-level clients announce in HELLO: every feature the suites exercise. */
export const FULL_HELLO = {
  roles: {
    caller: { features: { call_canceling: true, progressive_call_results: true } },
    callee: { features: { call_canceling: true, progressive_call_results: true, pattern_based_registration: true, shared_registration: true } },
    publisher: { features: { subscriber_blackwhite_listing: true, publisher_exclusion: true, publisher_identification: true } },
    subscriber: { features: { pattern_based_subscription: true, publisher_identification: true } },
  },
};

/**
 * realm1 with three roles: `anonymous` may do everything and discloses
 * nothing; `discloser` may do everything and its publications and calls
 * disclose it; `third` may do what `allow` says. Each role has a WebSocket
 * path (`/ws`, `/ws-discloser`, `/ws-<third>`) and, but anonymous (the
 * universal listener's), a RawSocket transport `raw-<role>`.
 */
export function matrixConfig(third: { name: string; allow: Record<Action, boolean> }): unknown {
  const cfg = testConfig({
    realms: [{
      name: 'realm1',
      roles: [
        { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: ALL, disclose: { caller: false, publisher: false } }] },
        { name: 'discloser', permissions: [{ uri: '', match: 'prefix', allow: ALL, disclose: { caller: true, publisher: true } }] },
        { name: third.name, permissions: [{ uri: '', match: 'prefix', allow: third.allow }] },
      ],
    }],
    transportExtras: {
      websocket: {
        ws: { type: 'websocket' },
        'ws-discloser': { type: 'websocket', auth: { anonymous: { type: 'static', role: 'discloser' } } },
        [`ws-${third.name}`]: { type: 'websocket', auth: { anonymous: { type: 'static', role: third.name } } },
      },
    },
  }) as { workers: { transports: unknown[] }[] };
  for (const role of ['discloser', third.name]) {
    cfg.workers[0]!.transports.push({
      type: 'rawsocket', id: `raw-${role}`,
      endpoint: { type: 'tcp', port: 0, interface: '127.0.0.1' },
      auth: { anonymous: { type: 'static', role } },
    });
  }
  return cfg;
}

export interface HasTeardown { teardown(fn: () => unknown): void }

export interface AbClient { session: AutobahnSession; connection: AutobahnConnection; closed: Promise<unknown> }

/** A router on matrixConfig() and the clients a test opens on it (closed together, in parallel, when it ends). */
export class MatrixFixture {
  private readonly closers = new WeakMap<HasTeardown, (() => Promise<void>)[]>();

  constructor(readonly r: RunningRouter) {}

  static async router(t: HasTeardown, config: unknown): Promise<RunningRouter> {
    const r = await startRouter(config);
    t.teardown(() => r.stop());
    return r;
  }

  private onTeardown(t: HasTeardown, close: () => Promise<void>): void {
    let list = this.closers.get(t);
    if (list === undefined) {
      const l: (() => Promise<void>)[] = [];
      list = l;
      this.closers.set(t, l);
      t.teardown(async () => { await Promise.all(l.map((c) => c())); });
    }
    list.push(close);
  }

  private target(v: Variant, role: string): { port: number; path: string } {
    if (v.rawsocket) {
      const port = role === 'anonymous' ? this.r.port : this.r.router.ports()[`raw-${role}`]!;
      return { port, path: '' };
    }
    return { port: this.r.port, path: role === 'anonymous' ? '/ws' : `/ws-${role}` };
  }

  /** An autobahn session as `role` (default anonymous). */
  async session(t: HasTeardown, v: Variant, opts: { role?: string } = {}): Promise<AbClient> {
    const { port, path } = this.target(v, opts.role ?? 'anonymous');
    const c = await connect({
      port, url: v.rawsocket ? undefined : `ws://127.0.0.1:${port}${path}`,
      serializer: v.serializer, rawsocket: v.rawsocket,
    });
    this.onTeardown(t, async () => {
      try { c.connection.close(); } catch { /* already closed */ }
      await Promise.race([c.closed, sleep(1000)]);
    });
    return c;
  }

  /** A joined wire-level session as `role`, announcing FULL_HELLO. */
  async wire(t: HasTeardown, v: Variant, opts: { role?: string } = {}): Promise<Wire> {
    const { port, path } = this.target(v, opts.role ?? 'anonymous');
    const w = Wire.connect({ kind: v.rawsocket ? 'raw' : 'ws', port, path, serializer: v.serializer, codec: 'autobahn', waitMs: WAIT_MS, name: v.name });
    this.onTeardown(t, async () => { w.close(); await Promise.race([w.closed, sleep(1000)]); });
    await w.join('realm1', FULL_HELLO);
    return w;
  }
}

/** Binary values as hex, so Buffer and Uint8Array compare by content. */
export function norm(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (Array.isArray(v)) return v.map(norm);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

/** Values every serializer must carry unchanged (64-bit edges, floats, Unicode, nesting, empties). */
export const NESTED_ARGS: unknown[] = [
  1, -7, 0, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 32, 2 ** 32 - 1, -(2 ** 32), 2 ** 40 + 1, 1e20, 1.5, 0.1, -2.5e10, 1e-300,
  'ünïcødé €😀 中文', '', null, true, false,
  [1, [2, [3, { deep: [4.25, 'x'] }]]], {}, [],
];
export const NESTED_KWARGS: Record<string, unknown> = {
  a: { b: { c: [1.25, 'zwei', { d: null }] } },
  'ключ': 'значение 🚀',
  empty: {}, emptyList: [], flag: false, n: -0.5,
};
