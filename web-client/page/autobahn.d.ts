// The part of autobahn-js (untyped JavaScript) the pages use.
declare module 'autobahn' {
  export interface Subscription { readonly id: number; unsubscribe(): Promise<unknown> }
  /** `publication`: the router's id of the publication (autobahn's Event, the handler's third argument). */
  export interface EventDetails { publication?: number; publisher?: number; publisher_authid?: string; topic?: string; retained?: boolean }
  export interface Session {
    readonly id: number;
    readonly isOpen: boolean;
    call<T = unknown>(procedure: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<T>;
    publish(topic: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown> | undefined;
    subscribe(topic: string, handler: (args: unknown[], kwargs: Record<string, unknown>, details: EventDetails) => void, options?: Record<string, unknown>): Promise<Subscription>;
  }
  export interface CloseDetails { reason?: string | null; message?: string | null; will_retry?: boolean }
  export class Connection {
    constructor(options: Record<string, unknown>);
    onopen: (session: Session, details: Record<string, unknown>) => void;
    onclose: (reason: string, details: CloseDetails) => boolean | void;
    open(): void;
    close(reason?: string, message?: string): void;
    readonly isOpen: boolean;
  }
  export class Error {
    constructor(error: string, args?: unknown[], kwargs?: Record<string, unknown>);
    error: string;
    args: unknown[];
    kwargs: Record<string, unknown>;
  }
  export const serializer: { JSONSerializer: new () => unknown };
  export const auth_cra: {
    sign(key: string, challenge: string): string;
    derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string;
  };
  const autobahn: {
    Connection: typeof Connection;
    Error: typeof Error;
    serializer: typeof serializer;
    auth_cra: typeof auth_cra;
  };
  export default autobahn;
}
