// Payload schemas of the claw protocol (WAMP args[0] objects). Receivers
// validate with these at the edge and work with the inferred types inside.
// Objects are passthrough: a newer peer may add fields, never remove them.
import { z } from 'zod';
import { isUriComponent } from './uris.js';
import { isValidName, nameProblem } from './defaults.js';

const Id = z.string().refine(isUriComponent, 'must be 1–64 of [0-9a-z_-]');
const Millis = z.number().int().nonnegative();
/**
 * The backend's id of one turn (start_turn hands it to the node, whose events
 * and `controlled` status carry it back): turns are matched by this and the
 * player's authid, never by a display name.
 */
export const TurnId = z.number().int().positive();
export type TurnId = z.infer<typeof TurnId>;

/** What a claw node says about itself on claw.machine.<id>.status (retained). */
export const MachineStatusState = z.enum(['ready', 'controlled', 'offline', 'maintenance']);
export type MachineStatusState = z.infer<typeof MachineStatusState>;

/** The state the lobby shows: the node's status, or `paused` when an operator paused the queue. */
export const MachineState = z.enum(['ready', 'controlled', 'offline', 'maintenance', 'paused']);
export type MachineState = z.infer<typeof MachineState>;

export const TurnResult = z.enum(['win', 'lose', 'timeout', 'abandoned', 'skipped']);
export type TurnResult = z.infer<typeof TurnResult>;

export const Direction = z.enum(['up', 'down', 'left', 'right']);
export type Direction = z.infer<typeof Direction>;

export const Command = z.enum(['upOn', 'upOff', 'downOn', 'downOff', 'leftOn', 'leftOff', 'rightOn', 'rightOff', 'drop']);
export type Command = z.infer<typeof Command>;

export const OUTPUTS = ['up', 'down', 'left', 'right', 'drop', 'coin'] as const;
export type OutputName = (typeof OUTPUTS)[number];
export const INPUTS = ['prize'] as const;
export type InputName = (typeof INPUTS)[number];

export const StatusPayload = z.object({
  state: MachineStatusState,
  /** Display name of the player in control, when `controlled` (shown; never used to match anything). */
  player: z.string().optional(),
  /** Extension: the authid of the player in control, when `controlled`. */
  authid: Id.optional(),
  /** Extension: the backend's turn id of the turn in progress, when `controlled` and start_turn gave one. */
  turn: TurnId.optional(),
  /** ms since the epoch when this state began. */
  since: Millis,
  /**
   * Extension: why the node says `offline` itself: `stopped` when it is
   * being stopped cleanly (the router's testament for a lost session has no
   * reason).
   */
  reason: z.string().max(64).optional(),
}).passthrough();
export type StatusPayload = z.infer<typeof StatusPayload>;

export const ControlPayload = z.object({ command: Command }).passthrough();
export type ControlPayload = z.infer<typeof ControlPayload>;

const Levels = <K extends readonly string[]>(keys: K) =>
  z.object(Object.fromEntries(keys.map((k) => [k, z.boolean()])) as { [P in K[number]]: z.ZodBoolean });

/** Extension: what a simulated cabinet's claw is doing mechanically. */
export const ClawMotion = z.enum(['idle', 'lowering', 'grabbing', 'raising', 'returning', 'releasing']);
export type ClawMotion = z.infer<typeof ClawMotion>;

/** Extension: the phase of the node's turn (coin pulse, steering, drop pulse and cycle, waiting for the prize). */
export const TurnPhase = z.enum(['coin', 'move', 'drop', 'prize']);
export type TurnPhase = z.infer<typeof TurnPhase>;

/** Most prize positions a lines payload may carry. */
export const MAX_PRIZES = 64;

export const LinesPayload = z.object({
  outputs: Levels(OUTPUTS),
  inputs: Levels(INPUTS),
  /**
   * Extension: where the claw is, 0..1 across the box, when the node knows
   * (the simulated machine does), so spectators can draw it; `phase`: what
   * it is doing.
   */
  claw: z.object({ x: z.number(), y: z.number(), z: z.number(), holding: z.boolean(), phase: ClawMotion.optional() }).passthrough().optional(),
  /**
   * Extension: where the prizes lie (simulated cabinets), 0..1 like `claw`.
   * Sent when they changed and whenever the claw is not just moving, left
   * out of the frequent motion updates: a receiver keeps the last ones.
   */
  prizes: z.array(z.object({ x: z.number(), y: z.number() }).passthrough()).max(MAX_PRIZES).optional(),
  /** Extension: the phase of the turn in progress (absent between turns). */
  turnPhase: TurnPhase.optional(),
}).passthrough();
export type LinesPayload = z.infer<typeof LinesPayload>;

export const EventPayload = z.object({
  type: z.enum(['turn_started', 'turn_ended']),
  machine: Id,
  /** The player's display name, as the turn started (shown; never used to match anything). */
  player: z.string(),
  /** Extension: the player's authid. */
  authid: Id.optional(),
  /** Extension: the backend's turn id, when start_turn gave one. */
  turn: TurnId.optional(),
  result: TurnResult.optional(),
  at: Millis,
}).passthrough();
export type EventPayload = z.infer<typeof EventPayload>;

export const StartTurnArgs = z.object({
  player: Id,
  moveSeconds: z.number().positive().max(600),
  /** Extension: the display name, for the node's status and events. */
  name: z.string().optional(),
  /** Extension: the backend's id of this turn; the node echoes it in its events and `controlled` status. */
  turn: TurnId.optional(),
}).passthrough();
export type StartTurnArgs = z.infer<typeof StartTurnArgs>;

export const StartTurnResult = z.object({ topic: z.string(), endsAt: Millis }).passthrough();
export type StartTurnResult = z.infer<typeof StartTurnResult>;

export const EndTurnArgs = z.object({
  reason: TurnResult.or(z.string()),
  /** Extension: end only this turn; a node running another turn (or none) changes nothing. */
  turn: TurnId.optional(),
}).passthrough();
export type EndTurnArgs = z.infer<typeof EndTurnArgs>;

/** claw.machine.<id>.release (optional node procedure): release the lines of this player's (and turn's) turn. */
export const ReleaseArgs = z.object({
  player: z.string().optional(),
  /** Extension: only when this turn is the one in progress. */
  turn: TurnId.optional(),
}).passthrough();
export type ReleaseArgs = z.infer<typeof ReleaseArgs>;

export const QueueSnapshot = z.object({
  machine: Id,
  state: MachineState,
  current: z.object({ name: z.string(), endsAt: Millis.nullable() }).passthrough().nullable(),
  waiting: z.array(z.object({
    name: z.string(),
    position: z.number().int().nonnegative(),
    /** Extension: on the entry being asked to get ready only: its deadline. */
    readyDeadline: Millis.optional(),
    /** Extension: when this player is expected to be asked (ms); absent when unknown (paused, offline). */
    etaAt: Millis.optional(),
  }).passthrough()),
  /** Extension: an operator paused the machine (whatever the node's state; `state` says `paused` only while the node is ready). */
  paused: z.boolean().optional(),
}).passthrough();
export type QueueSnapshot = z.infer<typeof QueueSnapshot>;

export const MachineSummary = z.object({
  machine: Id,
  state: MachineState,
  queueLength: z.number().int().nonnegative(),
  spectators: z.number().int().nonnegative(),
  /** Extension: an operator paused the machine (also during a turn). */
  paused: z.boolean().optional(),
}).passthrough();
export type MachineSummary = z.infer<typeof MachineSummary>;

export const SlotResult = z.object({
  machine: Id,
  position: z.number().int().nonnegative(),
  queueLength: z.number().int().nonnegative(),
  etaSeconds: z.number().nonnegative(),
  /** Extension: the caller's turn is running (or starting). */
  playing: z.boolean().optional(),
  /** Extension, with `playing`: the running turn's end and control topic. */
  endsAt: Millis.optional(),
  topic: z.string().optional(),
  /** Extension: the caller is being asked to get ready, until this deadline. */
  readyDeadline: Millis.optional(),
  /** Extension: when the caller is expected to be asked (ms); absent when unknown (paused, offline). */
  etaAt: Millis.optional(),
}).passthrough();
export type SlotResult = z.infer<typeof SlotResult>;

/** Messages on claw.player.<authid>. `type` is always present (the contract's control messages carry type `control`). */
export const PlayerMessage = z.union([
  z.object({
    type: z.literal('position'), machine: Id, position: z.number().int().nonnegative(), etaSeconds: z.number().nonnegative(),
    /** Extension: when the player is expected to be asked (ms); absent when unknown (paused, offline). */
    etaAt: Millis.optional(),
  }).passthrough(),
  z.object({ type: z.literal('get_ready'), machine: Id, deadline: Millis }).passthrough(),
  z.object({ type: z.literal('control'), control: z.literal(true), machine: Id, topic: z.string(), endsAt: Millis }).passthrough(),
  z.object({ type: z.literal('control'), control: z.literal(false), machine: Id, result: TurnResult }).passthrough(),
  z.object({
    type: z.literal('removed'), machine: Id, reason: z.enum(['left', 'kicked', 'timeout', 'grace_expired']),
    /** Extension, with `kicked`: the operator blocked new joins of this machine until then (ms). */
    blockedUntil: Millis.optional(),
  }).passthrough(),
]);
export type PlayerMessage = z.infer<typeof PlayerMessage>;

/**
 * Why a turn ended, beyond its result (extension, in claw.admin.turns):
 * `node` the node reported it; `left` the player left during it; `gone` all
 * the player's sessions were gone past the presence grace; `skip`/`kick` an
 * operator; `overrun` no turn_ended long after endsAt; `silent` the node said
 * ready without reporting it; `node_lost` the node went away or restarted;
 * `start_failed` start_turn failed.
 */
export const TurnEndReason = z.enum(['node', 'left', 'gone', 'skip', 'kick', 'overrun', 'silent', 'node_lost', 'start_failed']);
export type TurnEndReason = z.infer<typeof TurnEndReason>;

/**
 * One row of claw.admin.turns (extension), newest first: a turn (`kind`
 * `turn`, or absent from older backends), or a player removed from a queue
 * without a turn (`kind` `removed`: a no-show, a kick, a grace expiry), whose
 * `endedAt` is when and `reason` why. `id` is unique within its kind.
 */
export const AdminTurnRow = z.object({
  id: z.number().int(),
  kind: z.enum(['turn', 'removed']).optional(),
  machine: Id,
  authid: z.string(),
  name: z.string(),
  startedAt: Millis.nullable(),
  endsAt: Millis.nullable(),
  endedAt: Millis.nullable(),
  result: TurnResult.nullable(),
  endedBy: z.string().nullable(),
  /** Turns: why it ended (TurnEndReason; null for turns recorded before it existed or still running). */
  endReason: z.string().nullable().optional(),
  /** Removals: `timeout` (no-show), `kicked`, `grace_expired`. */
  reason: z.enum(['timeout', 'kicked', 'grace_expired']).optional(),
  /** Kicks with a block: no new join until then (ms). */
  blockedUntil: Millis.nullable().optional(),
}).passthrough();
export type AdminTurnRow = z.infer<typeof AdminTurnRow>;

/** POST /api/session request and answer. */
export const SessionRequest = z.object({ name: z.string().refine(isValidName, (n) => ({ message: nameProblem(n) ?? 'invalid name' })) });
export type SessionRequest = z.infer<typeof SessionRequest>;
export const SessionAnswer = z.object({
  authid: Id,
  ticket: z.string(),
  expiresAt: Millis,
  name: z.string(),
  /**
   * Extension: the last moment this identity can be renewed (the end of its
   * renewal chain). A POST /api/session after it starts a new identity.
   */
  renewableUntil: Millis.optional(),
});
export type SessionAnswer = z.infer<typeof SessionAnswer>;
