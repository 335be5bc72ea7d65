// The backend's `video` section (docs/backend.md "Live video"): where Janus's
// API is, the secrets the service uses there, the RTP ports cameras send to,
// the ICE servers viewers are given, and the viewer bounds. Without the
// section the backend offers no video (claw.video.* is not registered).
import { z } from 'zod';
import { IceServer, VideoCodec } from '@clawgate/protocol';

export const Secret = z.union([
  z.string().min(1),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);

const Port = z.number().int().min(1024).max(65535);

export const VideoSection = z.object({
  janus: z.object({
    /** Janus's WebSocket API (keep it on loopback or a private network: it is the service's, not the browsers'). */
    url: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL'),
    /** Janus's `api_secret`, if it has one. */
    apiSecret: Secret.optional(),
    /** The streaming plugin's `admin_key`: only the service creates mountpoints. */
    adminKey: Secret,
    /** The secret of every mountpoint the service creates (only it may destroy them). Default: the admin key. */
    mountpointSecret: Secret.optional(),
    requestTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    keepaliveSeconds: z.number().min(1).max(50).default(20),
  }).strict(),
  rtp: z.object({
    /** Where cameras send their RTP: Janus's address as the claw nodes reach it. */
    host: z.string().min(1).max(255).default('127.0.0.1'),
    /** The address Janus binds each mountpoint's RTP port to (default: all of Janus's). */
    bind: z.string().min(1).max(255).optional(),
    /** Ports the mountpoints receive on (one even port per machine). */
    portMin: Port.default(20000),
    portMax: Port.default(20998),
    codec: VideoCodec.default('vp8'),
    payloadType: z.number().int().min(96).max(127).default(96),
  }).strict().default({}),
  /** ICE servers handed to viewers (STUN, TURN with credentials: docs/operations.md "TURN"). */
  iceServers: z.array(IceServer).max(8).default([]),
  limits: z.object({
    perSession: z.number().int().min(1).max(1000).default(2),
    /** Operator sessions (the dashboard's thumbnails: one per machine). */
    perOperatorSession: z.number().int().min(1).max(10_000).default(64),
    perMachine: z.number().int().min(1).max(100_000).default(500),
    total: z.number().int().min(1).max(1_000_000).default(2000),
  }).strict().default({}),
  /** A viewer that has not answered its offer this long is dropped (its Janus handle destroyed). */
  answerTimeoutSeconds: z.number().min(1).max(600).default(20),
}).strict().superRefine((v, ctx) => {
  if (v.rtp.portMax < v.rtp.portMin + (v.rtp.portMin % 2)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['rtp', 'portMax'], message: 'the range must hold at least one even port' });
});
export type VideoSectionInput = z.input<typeof VideoSection>;
type Parsed = z.infer<typeof VideoSection>;

export interface VideoConfig extends Omit<Parsed, 'janus'> {
  janus: Omit<Parsed['janus'], 'apiSecret' | 'adminKey' | 'mountpointSecret'> & { apiSecret?: string | undefined; adminKey: string; mountpointSecret: string };
}
