// The node's `camera` config key (docs/claw-node.md "Camera"): which pipeline
// sends the machine's video to its Janus mountpoint, and how it is
// supervised. Absent: no camera.
import { z } from 'zod';

const ms = (dflt: number) => z.number().int().positive().max(600_000).default(dflt);

export const CameraConfig = z.object({
  /**
   * `command`: a shell command line (rpicam-vid | ffmpeg, ffmpeg from v4l2, GStreamer) with
   * the placeholders {host}, {port}, {pt} (RTP payload type) and {codec}; `synthetic`: the
   * simulated machine drawn and encoded by ffmpeg (driver `simulated` only).
   */
  source: z.enum(['command', 'synthetic']),
  command: z.string().min(1).max(8192).optional(),
  /** The ffmpeg the synthetic camera runs (a name on PATH or a path). */
  ffmpeg: z.string().min(1).default('ffmpeg'),
  width: z.number().int().min(64).max(1920).multipleOf(16).default(640),
  height: z.number().int().min(48).max(1080).multipleOf(8).default(480),
  fps: z.number().int().min(1).max(60).default(30),
  bitrateKbps: z.number().int().min(50).max(20_000).default(1000),
  /** Restart delays after the pipeline ends: from initialDelayMs, times factor, up to maxDelayMs. */
  restart: z.object({
    initialDelayMs: ms(500),
    maxDelayMs: ms(15_000),
    factor: z.number().min(1).max(10).default(2),
  }).strict().default({}),
  /** A pipeline that ends this many times in a row within 5 s of its start is reported `failed` (and still retried). */
  failAfter: z.number().int().min(1).max(1000).default(5),
  /** No frame for this long (where the pipeline reports frames) and it is restarted. */
  stallSeconds: z.number().min(1).max(600).default(5),
  /** How often the node asks the video service again where to send (heals a restarted service). */
  refreshSeconds: z.number().min(1).max(3600).default(30),
  /** How often a running camera's frames/s is published. */
  reportSeconds: z.number().min(1).max(600).default(5),
}).strict().superRefine((c, ctx) => {
  if (c.source === 'command' && c.command === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['command'], message: 'required with source "command"' });
  if (c.source === 'synthetic' && (c.width % 64 !== 0 || c.height % 32 !== 0)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['width'], message: 'synthetic: width a multiple of 64 and height of 32 (drawn at a quarter size)' });
  }
});
export type CameraConfig = z.infer<typeof CameraConfig>;

/** The command line with {host}, {port}, {pt} and {codec} filled in (values are numbers or checked host names: no shell quoting needed). */
export function fillCommand(command: string, t: { host: string; port: number; payloadType: number; codec: string }): string {
  if (!/^[A-Za-z0-9.:_-]+$/.test(t.host)) throw new Error(`refusing RTP host ${JSON.stringify(t.host)}`);
  return command.replaceAll('{host}', t.host).replaceAll('{port}', String(t.port)).replaceAll('{pt}', String(t.payloadType)).replaceAll('{codec}', t.codec);
}

/** The synthetic camera's ffmpeg arguments: raw RGB frames on stdin, VP8 (realtime) as RTP to the target. */
export function syntheticArgs(c: CameraConfig, t: { host: string; port: number; payloadType: number }): string[] {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-stats_period', '1', '-stats',
    '-fflags', 'nobuffer', '-use_wallclock_as_timestamps', '1',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${c.width / 4}x${c.height / 4}`, '-framerate', String(c.fps), '-i', 'pipe:0',
    '-vf', `scale=${c.width}:${c.height}:flags=neighbor,format=yuv420p`,
    '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-lag-in-frames', '0', '-error-resilient', '1', '-auto-alt-ref', '0',
    '-b:v', `${c.bitrateKbps}k`, '-g', String(c.fps), '-threads', '1',
    '-an', '-f', 'rtp', '-payload_type', String(t.payloadType), `rtp://${host}:${t.port}?pkt_size=1200`,
  ];
}
