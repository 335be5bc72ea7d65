// The WAMP v2 message catalogue: one source of truth for codes and shapes.
// Every message crossing a transport is decoded into one of these exactly once
// (messages/decode.ts) and encoded from one of these (messages/encode.ts).

export const MessageType = {
  HELLO: 1,
  WELCOME: 2,
  ABORT: 3,
  CHALLENGE: 4,
  AUTHENTICATE: 5,
  GOODBYE: 6,
  ERROR: 8,
  PUBLISH: 16,
  PUBLISHED: 17,
  SUBSCRIBE: 32,
  SUBSCRIBED: 33,
  UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35,
  EVENT: 36,
  CALL: 48,
  CANCEL: 49,
  RESULT: 50,
  REGISTER: 64,
  REGISTERED: 65,
  UNREGISTER: 66,
  UNREGISTERED: 67,
  INVOCATION: 68,
  INTERRUPT: 69,
  YIELD: 70,
  // Provisional (wamp-proto test vectors): acknowledged event delivery.
  EVENT_RECEIVED: 337,
} as const;

export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

export const messageTypeName: Record<number, string> = Object.fromEntries(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

export type Dict = Record<string, unknown>;
export type WampId = number;
export type Uri = string;

/**
 * Application payload. Either positional/keyword arguments, or (payload
 * passthrough mode, when options/details carry `enc_algo`) one opaque payload
 * that the router forwards without looking inside.
 */
export interface Payload {
  args?: unknown[];
  kwargs?: Dict;
  payload?: Uint8Array | string;
}

export interface Hello { type: 1; realm: Uri; details: Dict }
export interface Welcome { type: 2; session: WampId; details: Dict }
export interface Abort { type: 3; details: Dict; reason: Uri }
export interface Challenge { type: 4; authmethod: string; extra: Dict }
export interface Authenticate { type: 5; signature: string; extra: Dict }
export interface Goodbye { type: 6; details: Dict; reason: Uri }
export interface ErrorMessage extends Payload { type: 8; requestType: number; request: WampId; details: Dict; error: Uri }
export interface Publish extends Payload {
  type: 16; request: WampId; options: Dict; topic: Uri;
  /** Bytes of the message as it arrived (undefined for in-process publishers): what max_publication_size and the retained limits measure. */
  size?: number;
}
export interface Published { type: 17; request: WampId; publication: WampId }
export interface Subscribe { type: 32; request: WampId; options: Dict; topic: Uri }
export interface Subscribed { type: 33; request: WampId; subscription: WampId }
export interface Unsubscribe { type: 34; request: WampId; subscription: WampId }
export interface Unsubscribed { type: 35; request: WampId; details?: Dict }
export interface Event extends Payload { type: 36; subscription: WampId; publication: WampId; details: Dict }
export interface Call extends Payload { type: 48; request: WampId; options: Dict; procedure: Uri }
export interface Cancel { type: 49; request: WampId; options: Dict }
export interface Result extends Payload { type: 50; request: WampId; details: Dict }
export interface Register { type: 64; request: WampId; options: Dict; procedure: Uri }
export interface Registered { type: 65; request: WampId; registration: WampId }
export interface Unregister { type: 66; request: WampId; registration: WampId }
export interface Unregistered { type: 67; request: WampId; details?: Dict }
export interface Invocation extends Payload { type: 68; request: WampId; registration: WampId; details: Dict }
export interface Interrupt { type: 69; request: WampId; options: Dict }
export interface Yield extends Payload { type: 70; request: WampId; options: Dict }
export interface EventReceived extends Payload { type: 337; publication: WampId; details?: Dict }

export type WampMessage =
  | Hello | Welcome | Abort | Challenge | Authenticate | Goodbye | ErrorMessage
  | Publish | Published | Subscribe | Subscribed | Unsubscribe | Unsubscribed | Event
  | Call | Cancel | Result | Register | Registered | Unregister | Unregistered
  | Invocation | Interrupt | Yield | EventReceived;

/** Messages a client may legitimately send to a router. */
export type ClientMessage =
  | Hello | Authenticate | Abort | Goodbye | ErrorMessage | Publish | Subscribe | Unsubscribe
  | Call | Cancel | Register | Unregister | Yield;

/** Messages a router sends to a client. */
export type RouterMessage =
  | Welcome | Abort | Challenge | Goodbye | ErrorMessage | Published | Subscribed | Unsubscribed
  | Event | Result | Registered | Unregistered | Invocation | Interrupt;

/** Raised when bytes or a message break the protocol; the session answers with ABORT. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}
