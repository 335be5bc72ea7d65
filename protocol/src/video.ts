// Live video of the cabinets (docs/protocol.md "Live video"): the procedures
// of the video service, the camera topic of each machine, payloads and
// errors. Media flows cabinet → Janus → viewer as RTP/WebRTC; everything a
// viewer says to the media server (offer, answer) is relayed over WAMP by the
// video service, bound to the caller's session, so a browser never talks to
// Janus's API.
import { z } from 'zod';
import { MACHINE_PREFIX, isUriComponent } from './uris.js';

const Id = z.string().refine(isUriComponent, 'must be 1–64 of [0-9a-z_-]');
const Millis = z.number().int().nonnegative();

/** Procedures the video service registers (the backend with a `video` section). */
export const VideoProcedures = {
  /** Viewer (player, spectator, operator): `{machine}` → WatchOffer. */
  watch: 'claw.video.watch',
  /** Viewer: `{viewer, answer}` → `{}` (media starts). */
  answer: 'claw.video.answer',
  /** Viewer: `{viewer}` → `{}` (its Janus handle is destroyed). */
  stop: 'claw.video.stop',
  /** Claw node: `{port?}` → VideoSource (where its camera sends RTP; the machine is the caller's authid). */
  source: 'claw.video.source',
  /** Operator: `{}` → VideoStats[] (viewers per machine, mountpoints). */
  stats: 'claw.video.stats',
} as const;

/** The retained topic on which a claw node reports its camera: `claw.machine.<id>.camera`. */
export function cameraTopic(machine: string): string {
  return `${MACHINE_PREFIX}${machine}.camera`;
}

/** Longest SDP the service relays (a Chromium answer for one video track is 2–5 KB). */
export const MAX_SDP_BYTES = 16_384;

/**
 * The video service's error URIs. In their own namespace beside the queue's
 * `claw.error.*` (ClawErrors): a client that knows nothing of video never
 * meets them.
 */
export const VideoErrors = {
  /** The machine has no live video now (no camera source, media server down, or no video service). */
  unavailable: 'claw.video.error.unavailable',
  /** A viewer limit was reached (kwargs `limit`: `session`, `machine` or `total`). */
  tooManyViewers: 'claw.video.error.too_many_viewers',
  /** The viewer id is unknown, gone, or belongs to another session. */
  noSuchViewer: 'claw.video.error.no_such_viewer',
} as const;

export const WatchArgs = z.object({ machine: Id }).passthrough();
export type WatchArgs = z.infer<typeof WatchArgs>;

const Sdp = (type: 'offer' | 'answer') => z.object({
  type: z.literal(type),
  sdp: z.string().min(1).max(MAX_SDP_BYTES),
}).passthrough();

/** An ICE server as RTCPeerConnection takes it (TURN credentials included). */
export const IceServer = z.object({
  urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(8)]),
  username: z.string().max(256).optional(),
  credential: z.string().max(256).optional(),
}).strict();
export type IceServer = z.infer<typeof IceServer>;

export const WatchOffer = z.object({
  /** This viewer's id: valid only in the session that called watch. */
  viewer: z.string().min(1).max(64),
  machine: Id,
  offer: Sdp('offer'),
  iceServers: z.array(IceServer).max(8),
}).passthrough();
export type WatchOffer = z.infer<typeof WatchOffer>;

/**
 * SDP as browsers write it: `v=0` first, then lines of `<letter>=<printable ASCII>`, CRLF (or LF)
 * ended. An answer comes from anyone (spectators are anonymous) and goes to the media server's SDP
 * parser, C code: what is not plainly SDP is refused before it gets there.
 */
export const SDP_TEXT = /^v=0\r?\n(?:[a-z]=[\x20-\x7e]*\r?\n)*(?:[a-z]=[\x20-\x7e]*)?$/;

export const AnswerArgs = z.object({
  viewer: z.string().min(1).max(64),
  answer: z.object({
    type: z.literal('answer'),
    sdp: z.string().min(1).max(MAX_SDP_BYTES).regex(SDP_TEXT, 'not SDP as a browser writes it (v=0, then lines of <letter>=<printable ASCII>)'),
  }).passthrough(),
}).passthrough();
export type AnswerArgs = z.infer<typeof AnswerArgs>;

export const StopArgs = z.object({ viewer: z.string().min(1).max(64) }).passthrough();
export type StopArgs = z.infer<typeof StopArgs>;

/**
 * claw.video.source's argument: `port`, the one the node's camera sends to now (from an
 * earlier answer). A restarted video service gives each machine its port back, so no two
 * cameras meet on one mountpoint while the nodes have not asked again yet.
 */
export const SourceArgs = z.object({ port: z.number().int().min(1).max(65535).optional() }).passthrough();
export type SourceArgs = z.infer<typeof SourceArgs>;

export const VideoCodec = z.enum(['vp8', 'h264']);
export type VideoCodec = z.infer<typeof VideoCodec>;

/** Where a machine's camera sends its RTP stream. */
export const VideoSource = z.object({
  machine: Id,
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  payloadType: z.number().int().min(96).max(127),
  codec: VideoCodec,
}).passthrough();
export type VideoSource = z.infer<typeof VideoSource>;

export const CameraState = z.enum(['off', 'waiting', 'starting', 'running', 'restarting', 'failed']);
export type CameraState = z.infer<typeof CameraState>;

/** What a claw node says about its camera on claw.machine.<id>.camera (retained). */
export const CameraStatus = z.object({
  state: CameraState,
  /** ms since the epoch when this state began. */
  since: Millis,
  /** Frames per second over the last report interval (absent when the pipeline does not tell). */
  fps: z.number().nonnegative().optional(),
  /** Encoded bits per second over the last report interval, when known. */
  bitrate: z.number().nonnegative().optional(),
  /** How often the pipeline was restarted since the node started. */
  restarts: z.number().int().nonnegative(),
  /** The last reason it stopped (exit code or signal, or what it printed last), bounded. */
  lastError: z.string().max(200).optional(),
  /** Where it sends (as the video service said). */
  port: z.number().int().optional(),
}).passthrough();
export type CameraStatus = z.infer<typeof CameraStatus>;

export const VideoStats = z.object({
  machine: Id,
  /** A mountpoint exists on the media server for this machine. */
  mountpoint: z.boolean(),
  viewers: z.number().int().nonnegative(),
  port: z.number().int().optional(),
}).passthrough();
export type VideoStats = z.infer<typeof VideoStats>;

/**
 * The send-time stamp a synthetic camera paints into the top of each frame
 * (the glass-to-glass benchmark reads it back from the displayed video): 48
 * bits of the ms timestamp then 8 check bits (the sum of its six bytes), most
 * significant bit first, one black (0) or white (1) block per bit. Block i
 * covers x ∈ [i, i+1) × width / STAMP.columns and y ∈ [0, 1) × height /
 * STAMP.rows: 8 × 16 px at 640 × 480, coarse enough to survive the encoder.
 */
export const STAMP = { bits: 56, columns: 80, rows: 30 } as const;

/** The 56 bits of a stamp, MSB first. */
export function stampBits(ms: number): boolean[] {
  const bytes: number[] = [];
  let v = Math.floor(ms);
  for (let i = 0; i < 6; i++) { bytes.unshift(v % 256); v = Math.floor(v / 256); }
  bytes.push(bytes.reduce((a, b) => a + b, 0) % 256);
  return bytes.flatMap((b) => Array.from({ length: 8 }, (_, i) => ((b >> (7 - i)) & 1) === 1));
}

/**
 * Reads a stamp back: `luma(x, y)` gives the brightness (0-255) at a pixel of
 * a `width` × `height` picture. Undefined when the check bits do not match
 * (a frame torn or smeared by the encoder).
 */
export function readStamp(luma: (x: number, y: number) => number, width: number, height: number): number | undefined {
  const y = Math.floor(height / STAMP.rows / 2);
  const bytes: number[] = [];
  for (let b = 0; b < 7; b++) {
    let byte = 0;
    for (let i = 0; i < 8; i++) {
      const x = Math.floor(((b * 8 + i) + 0.5) * width / STAMP.columns);
      byte = (byte << 1) | (luma(x, y) >= 128 ? 1 : 0);
    }
    bytes.push(byte);
  }
  const sum = bytes.slice(0, 6).reduce((a, b) => a + b, 0) % 256;
  if (sum !== bytes[6]) return undefined;
  return bytes.slice(0, 6).reduce((a, b) => a * 256 + b, 0);
}
