// `npm start -- --video`: Janus supervised as a child (janus-process.ts),
// the backend's video section pointing at it, and a synthetic camera for
// every simulated machine. Without janus or ffmpeg installed the system runs
// as without --video (the drawn view), saying so once.
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { z } from 'zod';
import { findProgram, janusFolders, startJanus, type JanusProcess } from './janus-process.js';

/** The `video` key of --overrides (docs/operations.md "Live video"). */
export const VideoOverrides = z.object({
  /** Start Janus and the synthetic cameras (what --video without a URL does). */
  enabled: z.boolean().default(false),
  /** Merged into the backend's `video` section (limits, iceServers, …). */
  backend: z.record(z.string(), z.unknown()).default({}),
  /** Merged into every simulated node's `camera` section (fps, size, bitrate, …). */
  camera: z.record(z.string(), z.unknown()).default({}),
}).strict();
export type VideoOverrides = z.infer<typeof VideoOverrides>;

export interface VideoSetup {
  janus: JanusProcess;
  /** The backend's `video` section. */
  backend: Record<string, unknown>;
  /** Every simulated node's `camera` section. */
  camera: Record<string, unknown>;
  /** The system is stopping: Janus is not started again if it ends now. */
  stopping(): void;
  stop(): Promise<void>;
}

/** What is missing for --video, or undefined. */
export function videoMissing(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const missing: string[] = [];
  if (findProgram(env.CLAWGATE_JANUS ?? 'janus', env) === undefined || janusFolders() === undefined) missing.push('janus');
  if (findProgram(env.CLAWGATE_FFMPEG ?? 'ffmpeg', env) === undefined) missing.push('ffmpeg');
  return missing.length ? missing.join(' and ') : undefined;
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A block of `count` even UDP ports (and the odd ones between) free now, in
 * 20000-29999; random so that several systems on one host (tests) rarely meet.
 */
export async function rtpPorts(count: number): Promise<{ portMin: number; portMax: number }> {
  const span = 2 * count;
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20000 + 2 * Math.floor(Math.random() * ((10000 - span) / 2));
    let ok = true;
    for (let p = min; p < min + span && ok; p += 2) ok = await udpFree(p);
    if (ok) return { portMin: min, portMax: min + span - 2 };
  }
  throw new Error('no free block of UDP ports for the cameras in 20000-29999');
}

export async function startVideo(o: { dataDir: string; machines: number; host: string; log: (m: string) => void }): Promise<VideoSetup> {
  const janus = await startJanus({
    binary: findProgram(process.env.CLAWGATE_JANUS ?? 'janus')!,
    dir: join(o.dataDir, 'janus'),
    rtpPortRange: '30000-39999',
    // The demo on loopback: viewers on this host only, so no candidate but 127.0.0.1 is offered.
    iceEnforceList: isLoopback(o.host) ? '127.0.0.1' : undefined,
    log: (m) => o.log(m),
  });
  // Room for a few machines more than started (a node that reconnects keeps its port).
  const ports = await rtpPorts(o.machines + 4);
  return {
    janus,
    backend: {
      janus: { url: janus.url, apiSecret: janus.apiSecret, adminKey: janus.adminKey },
      rtp: { host: '127.0.0.1', bind: '127.0.0.1', ...ports },
    },
    camera: { source: 'synthetic', ffmpeg: findProgram(process.env.CLAWGATE_FFMPEG ?? 'ffmpeg')! },
    stopping: () => janus.stopRestarting(),
    stop: () => janus.stop(),
  };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}
