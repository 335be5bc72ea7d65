// The configuration used without --config: one universal listener on
// loopback (WebSocket at /ws, RawSocket and HTTP on the same port), realm
// `realm1`, role `anonymous` allowed everything. For development only.
export function devConfig(port = Number(process.env.PORT ?? 8080)): unknown {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
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
