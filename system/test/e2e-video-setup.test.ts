// `npm start -- --video` without Janus: the generated Janus config (loopback
// only, no Admin API, one plugin and one transport), what counts as
// installed, the command line, and the RTP port block; and the launcher
// with --video where janus is missing. e2e-video.test.ts runs the real thing.
import t from 'tap';
import { parseArgs } from '../src/cli.js';
import { janusConfigFiles } from '../src/video/janus-config.js';
import { rtpPorts, videoMissing } from '../src/video/video-setup.js';
import { Overrides } from '../src/overrides.js';
import { launch, tempDir } from './helpers.js';

t.test('the generated Janus config', async (t) => {
  const files = janusConfigFiles({
    dir: '/d', emptyDir: '/d/none', pluginsFolder: '/p', transportsFolder: '/t',
    plugins: ['libjanus_streaming.so', 'libjanus_echotest.so', 'libjanus_videoroom.so.1', 'README'],
    transports: ['libjanus_websockets.so', 'libjanus_http.so', 'libjanus_pfunix.so'],
    wsPort: 4321, apiSecret: 'api"x', adminKey: 'adm', rtpPortRange: '30000-39999', iceEnforceList: '127.0.0.1', debugLevel: 3,
  });
  t.same(Object.keys(files).sort(), ['janus.jcfg', 'janus.plugin.streaming.jcfg', 'janus.transport.websockets.jcfg']);
  const main = files['janus.jcfg']!;
  t.match(main, /disable = "libjanus_echotest\.so"/, 'every other plugin disabled (only .so files named)');
  t.match(main, /disable = "libjanus_http\.so,libjanus_pfunix\.so"/, 'every other transport disabled');
  t.match(main, /api_secret = "api\\"x"/, 'the API secret, quoted');
  t.match(main, /events_folder = "\/d\/none"/, 'no event handlers');
  t.match(main, /ice_enforce_list = "127\.0\.0\.1"/);
  const ws = files['janus.transport.websockets.jcfg']!;
  t.match(ws, /ws_ip = "127\.0\.0\.1"/, 'the API on loopback');
  t.match(ws, /ws_port = 4321/);
  t.match(ws, /wss = false/);
  t.match(ws, /admin_ws = false\s+admin_wss = false/, 'no Admin API');
  t.match(files['janus.plugin.streaming.jcfg'], /admin_key = "adm"/, 'only the admin key creates mountpoints');
  t.notMatch(files['janus.plugin.streaming.jcfg'], /type = "rtp"/, 'no demo mountpoints');
});

t.test('what --video needs', async (t) => {
  t.equal(videoMissing({ PATH: '/nonexistent' }), 'janus and ffmpeg');
  t.equal(videoMissing({ PATH: '/nonexistent', CLAWGATE_JANUS: '/no/janus', CLAWGATE_FFMPEG: '/bin/sh' }), 'janus');
});

t.test('the command line', async (t) => {
  const args = (...a: string[]) => parseArgs(['node', 'clawgate', ...a], {});
  t.match(args('--video'), { video: true, videoUrls: {} }, '--video alone: live video');
  t.match(args('--video', '--port', '9000'), { video: true, port: 9000 });
  t.match(args('--video', 'claw-1=http://cam/x.mjpg'), { video: false, videoUrls: { 'claw-1': 'http://cam/x.mjpg' } }, 'with a URL: the MJPEG fallback as before');
  t.match(args(), { video: false, videoUrls: {} });
  t.same(Overrides.parse({ video: { enabled: true } }).video, { enabled: true, backend: {}, camera: {} }, 'the overrides key');
  t.throws(() => Overrides.parse({ video: { enable: true } }), 'misspelt keys are refused');
});

t.test('a free block of RTP ports', async (t) => {
  const p = await rtpPorts(5);
  t.equal(p.portMin % 2, 0);
  t.equal(p.portMax - p.portMin, 8);
  t.ok(p.portMin >= 20000 && p.portMax < 30000);
});

t.test('--video without janus: the system runs as without it, saying so once', async (t) => {
  const dir = tempDir(t, 'clawgate-novideo-');
  // The launcher's environment is this process's at spawn time.
  const before = process.env.CLAWGATE_JANUS;
  process.env.CLAWGATE_JANUS = '/nonexistent/janus';
  let system: Awaited<ReturnType<typeof launch>>;
  try {
    system = await launch(t, { dataDir: `${dir}/data`, args: ['--video'], logLevel: 'warn' });
  } finally {
    if (before === undefined) delete process.env.CLAWGATE_JANUS; else process.env.CLAWGATE_JANUS = before;
  }
  const said = system.stderr().split('\n').filter((l) => l.includes('video'));
  t.same(said, ['clawgate: video: janus not installed (apt-get install janus ffmpeg); the machines are shown drawn, without live video'], 'one clear line');
  t.match(system.stdout(), /video\s+off: janus not installed/, 'the banner says video is off');
  const res = await fetch(system.url);
  t.equal(res.status, 200, 'the page is served as always');
  t.equal(await system.interrupt(), 0, 'and it stops cleanly');
});
