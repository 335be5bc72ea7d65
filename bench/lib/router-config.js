// The Crossbar-format config our router runs with in the benchmarks (run.js
// writes it to a file for the CLI; router-path.js loads it in-process).
//
// `autoPing` ({ intervalMs, timeoutMs }, run.js --auto-ping): the transport
// pings connections it has not heard from (auto_ping_interval /
// auto_ping_timeout, router/src/transport/liveness.ts), to measure what the
// pings cost idle sessions. Off by default, as in Crossbar.
export function routerConfig(port, { autoPing } = {}) {
  return {
    version: 2,
    workers: [{
      type: 'router',
      realms: [{
        name: 'realm1',
        // The peers have no per-session limits; ours (100 publishes/calls per
        // second per session by default) would measure the limit, not the
        // routing. All load comes from one address (127.0.0.1), so the
        // per-address session cap is off too. Session counts, message size and
        // send buffers stay on.
        options: { limits: { publish_rate: null, call_rate: null, max_pending_calls: null, max_sessions_per_address: null } },
        roles: [{
          name: 'anonymous',
          permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true }, disclose: { caller: false, publisher: false } }],
        }],
      }],
      transports: [{
        type: 'websocket',
        id: 'bench',
        endpoint: { type: 'tcp', port, interface: '127.0.0.1' },
        serializers: ['json', 'msgpack'],
        ...(autoPing ? { options: { auto_ping_interval: autoPing.intervalMs, auto_ping_timeout: autoPing.timeoutMs } } : {}),
        // The fan-out points open 1000 connections from 127.0.0.1.
        limits: { max_connections_per_address: null },
      }],
    }],
  };
}
