// The config files of the Janus that `npm start -- --video` runs (pure: the
// text of each file from the options). Small on purpose: the WebSocket API on
// loopback only (the backend's video service is its only client), no Admin
// API, one plugin (streaming, whose mountpoints only a holder of the admin
// key creates, and which has no demo mountpoints) and one transport; every
// other plugin, transport, logger and event handler is not loaded.

export interface JanusConfigOptions {
  /** The folder the generated files are written to (Janus's configs_folder). */
  dir: string;
  /** An empty folder: where Janus looks for loggers and event handlers (none). */
  emptyDir: string;
  pluginsFolder: string;
  transportsFolder: string;
  /** File names in those folders (every .so but ours is disabled). */
  plugins: readonly string[];
  transports: readonly string[];
  /** The WebSocket API's port, on 127.0.0.1. */
  wsPort: number;
  /** Every API request must carry it (the backend's video.janus.apiSecret). */
  apiSecret: string;
  /** The streaming plugin's admin_key (the backend's video.janus.adminKey). */
  adminKey: string;
  /** ICE/RTP ports Janus uses towards viewers, `min-max`. */
  rtpPortRange: string;
  /** Interfaces or addresses ICE candidates are gathered on (loopback only for the demo). */
  iceEnforceList?: string | undefined;
  /** 0-7; 3 is warnings and errors. */
  debugLevel: number;
}

const KEEP_PLUGIN = 'libjanus_streaming.so';
const KEEP_TRANSPORT = 'libjanus_websockets.so';

const str = (s: string): string => JSON.stringify(s);

/** The files to write into `dir`, by name. */
export function janusConfigFiles(o: JanusConfigOptions): Record<string, string> {
  const disable = (files: readonly string[], keep: string) => files.filter((f) => /\.so$/.test(f) && f !== keep).join(',');
  const main = `general: {
  configs_folder = ${str(o.dir)}
  plugins_folder = ${str(o.pluginsFolder)}
  transports_folder = ${str(o.transportsFolder)}
  events_folder = ${str(o.emptyDir)}
  loggers_folder = ${str(o.emptyDir)}
  debug_level = ${o.debugLevel}
  api_secret = ${str(o.apiSecret)}
  session_timeout = 60
  server_name = "clawgate"
  hide_dependencies = true
}
media: {
  ipv6 = false
  rtp_port_range = ${str(o.rtpPortRange)}
}
nat: {
  nice_debug = false
${o.iceEnforceList ? `  ice_enforce_list = ${str(o.iceEnforceList)}\n` : ''}}
plugins: {
  disable = ${str(disable(o.plugins, KEEP_PLUGIN))}
}
transports: {
  disable = ${str(disable(o.transports, KEEP_TRANSPORT))}
}
loggers: {
}
events: {
}
`;
  const ws = `general: {
  json = "plain"
  ws = true
  ws_port = ${o.wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`;
  const streaming = `general: {
  admin_key = ${str(o.adminKey)}
  events = false
}
`;
  return {
    'janus.jcfg': main,
    'janus.transport.websockets.jcfg': ws,
    'janus.plugin.streaming.jcfg': streaming,
  };
}
