// What a transport (path) accepts for authentication: Crossbar's `auth`
// section, one entry per method, already validated and with secrets resolved
// (config/auth-config.ts). The types here are the embedder's API too.
import type { Dict } from '../messages/types.js';

/** Who a session is, once authenticated. */
export interface Identity {
  authid: string;
  authrole: string;
  authmethod: string;
  authprovider: string;
  authextra?: Dict;
}

export interface AnonymousAuth {
  type: 'static';
  role: string;
  /** Fixed authid; otherwise a random one. A client's own HELLO.authid is never trusted. */
  authid?: string;
}

/**
 * A dynamic authenticator: a procedure some session registered on the router,
 * called as Crossbar calls it, `(realm, authid, details)`.
 */
export interface DynamicAuth {
  type: 'dynamic';
  authenticator: string;
  /** Realm the authenticator is registered on; default: the realm the client asked for. */
  authenticatorRealm?: string;
}

/** Common to static principals of every method. */
export interface PrincipalBase {
  role: string;
  /** When set, the principal may join only this realm. */
  realm?: string;
  /** Sent to the client in WELCOME.Details.authextra. */
  extra?: Dict;
}

export interface TicketPrincipal extends PrincipalBase {
  ticket: string;
}

/** ClawGate extension: signed, expiring tickets (auth/signed-ticket.ts) checked against a shared secret. */
export interface SignedTickets {
  secret: string;
  /** When set, a signed ticket may only claim one of these roles. */
  roles?: string[];
}

export type TicketAuth =
  | { type: 'static'; principals: Record<string, TicketPrincipal>; signed?: SignedTickets }
  | (DynamicAuth & { signed?: SignedTickets });

export interface WampCraUser extends PrincipalBase {
  /** The HMAC key: the password, or for a salted user the PBKDF2-derived key (base64), as Crossbar documents. */
  secret: string;
  salt?: string;
  iterations?: number;
  keylen?: number;
}

export type WampCraAuth =
  | { type: 'static'; users: Record<string, WampCraUser> }
  | DynamicAuth;

export interface CryptosignPrincipal extends PrincipalBase {
  /** Ed25519 public keys, 64 hex digits each (lowercase). */
  authorized_keys: string[];
}

export type CryptosignAuth =
  | { type: 'static'; principals: Record<string, CryptosignPrincipal> }
  | DynamicAuth;

/** Per transport/path: method name → its config (Crossbar's `auth` section). */
export interface AuthPolicy {
  anonymous?: AnonymousAuth;
  ticket?: TicketAuth;
  wampcra?: WampCraAuth;
  cryptosign?: CryptosignAuth;
  /**
   * How long a client has from HELLO until it is authenticated (CHALLENGE
   * answered, authenticator done); then ABORT. Default DEFAULT_AUTH_TIMEOUT_MS.
   */
  timeoutMs?: number;
}

export type AuthMethod = 'anonymous' | 'ticket' | 'wampcra' | 'cryptosign';
export const AUTH_METHODS: readonly AuthMethod[] = ['anonymous', 'ticket', 'wampcra', 'cryptosign'];

export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/** A transport without an `auth` section admits anonymous sessions with role `anonymous`, as Crossbar does. */
export const DEFAULT_AUTH_POLICY: AuthPolicy = { anonymous: { type: 'static', role: 'anonymous' } };
