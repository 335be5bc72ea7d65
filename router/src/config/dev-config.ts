// The configuration used without --config: one universal listener on
// loopback (WebSocket at /ws, RawSocket and HTTP on the same port), realm
// `realm1`, role `anonymous` allowed everything, no per-session rate limits
// and no per-address limits (load tools open thousands of sessions from one
// address). For development only.
export function devConfig(port = Number(process.env.PORT ?? 8080)): unknown {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        // Load tools and benchmarks run against development mode: per-session rate and
        // pending-call limits and the per-address session count are off here (session counts,
        // sizes, timeouts and buffers stay).
        options: {
          limits: {
            publish_rate: null, call_rate: null, subscribe_rate: null, register_rate: null, max_pending_calls: null,
            max_sessions_per_address: null,
          },
        },
        roles: [{
          name: 'anonymous',
          permissions: [{
            uri: '', match: 'prefix',
            allow: { call: true, register: true, publish: true, subscribe: true },
            disclose: { caller: false, publisher: false },
          }],
        }],
      }],
      transports: [{
        type: 'universal',
        id: 'dev',
        endpoint: { type: 'tcp', port, interface: '127.0.0.1' },
        limits: { max_connections_per_address: null },
        rawsocket: {},
        websocket: { ws: { type: 'websocket' } },
        web: { paths: {} },
      }],
    }],
  };
}
