// The configuration used without --config: one universal listener on
// loopback (WebSocket at /ws, RawSocket and HTTP on the same port), realm
// `realm1`, role `anonymous` allowed everything, no per-session rate limits.
// For development only.
export function devConfig(port = Number(process.env.PORT ?? 8080)): unknown {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        // Load tools and benchmarks run against development mode: per-session rate and
        // pending-call limits are off here (session counts, timeouts and buffers stay).
        options: { limits: { publish_rate: null, call_rate: null, max_pending_calls: null } },
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
        rawsocket: {},
        websocket: { ws: { type: 'websocket' } },
        web: { paths: {} },
      }],
    }],
  };
}
