// A refusal of the video service, as a WAMP error: one of VideoErrors (or
// claw.error.invalid_argument), a message, and kwargs a client can act on.
export class VideoFault extends Error {
  constructor(readonly uri: string, message: string, readonly kwargs?: Record<string, unknown>) {
    super(message);
    this.name = 'VideoFault';
  }
}
