// The normal player of the hostile-client suite: autobahn-js over `ws`, as
// the player page uses it, logged in with a guest ticket from POST
// /api/session. Each player comes from its own address, as real players come
// from their own (through the reverse proxy, see raw-wamp.ts), so per-address
// limits meant for an attacker never count them together.
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { Procedures, machineUris, playerTopic } from '@clawgate/protocol';
import { mintGuest, proxyHeaders, type Endpoint, type Guest } from './raw-wamp.js';

const require = createRequire(import.meta.url);

/**
 * autobahn creates `new WebSocket(url, protocols)` with the global class
 * inside Connection.open(); this one adds the local address chosen for the
 * connection being opened.
 */
let bindNext: string | undefined;
class BoundWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, bindNext !== undefined ? { localAddress: bindNext, headers: proxyHeaders(bindNext) } : {});
  }
}
(globalThis as { WebSocket?: unknown }).WebSocket = BoundWebSocket;

interface AbSession {
  call(p: string, a?: unknown[], kw?: Record<string, unknown>, o?: Record<string, unknown>): Promise<unknown>;
  publish(topic: string, a?: unknown[], kw?: Record<string, unknown>, o?: Record<string, unknown>): Promise<unknown> | undefined;
  subscribe(topic: string, h: (args: unknown[] | undefined) => void, o?: Record<string, unknown>): Promise<unknown>;
  readonly isOpen: boolean;
}
interface AbConnection { onopen: (s: AbSession) => void; onclose: (reason: string, d: { reason?: string; message?: string }) => boolean; open(): void; close(): void }
const autobahn = require('autobahn') as { Connection: new (o: Record<string, unknown>) => AbConnection };

export interface PlayerMessage {
  type: string;
  machine?: string;
  control?: boolean;
  topic?: string;
  result?: string;
  position?: number;
  reason?: string;
}

export class Player {
  readonly messages: { at: number; m: PlayerMessage }[] = [];
  private closing: Promise<void> | undefined;
  /** Why the connection closed, once it did. */
  closedWith: string | undefined;

  private constructor(readonly guest: Guest, readonly address: string, private readonly connection: AbConnection, readonly session: AbSession, private readonly gone: Promise<void>) {}

  /** A new guest named `name`, minted and connected from `address`. */
  static async connect(ep: Endpoint, name: string, address: string, timeoutMs = 15_000): Promise<Player> {
    const guest = await mintGuest(ep, name, { localAddress: address });
    return Player.login(ep, guest, address, timeoutMs);
  }

  static async login(ep: Endpoint, guest: Guest, address: string, timeoutMs = 15_000): Promise<Player> {
    let closed!: () => void;
    const gone = new Promise<void>((r) => { closed = r; });
    let closedWith: string | undefined;
    const connection = new autobahn.Connection({
      url: ep.wsUrl, realm: 'claw', max_retries: 0, retry_if_unreachable: false,
      authmethods: ['ticket'], authid: guest.authid, onchallenge: () => guest.ticket,
    });
    const session = await new Promise<AbSession>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${guest.name}: no WELCOME within ${timeoutMs} ms`)), timeoutMs);
      connection.onopen = (s) => { clearTimeout(timer); resolve(s); };
      connection.onclose = (reason, d) => {
        clearTimeout(timer);
        closedWith = `${reason} ${d?.reason ?? ''} ${d?.message ?? ''}`.trim();
        closed();
        reject(new Error(`${guest.name}: connection closed: ${closedWith}`));
        return true;
      };
      bindNext = address;
      try { connection.open(); } finally { bindNext = undefined; }
    });
    const p = new Player(guest, address, connection, session, gone);
    void gone.then(() => { p.closedWith = closedWith; });
    await session.subscribe(playerTopic(guest.authid), (args) => { p.messages.push({ at: Date.now(), m: args?.[0] as PlayerMessage }); });
    return p;
  }

  get authid(): string { return this.guest.authid; }

  call(procedure: string, args: unknown[] = []): Promise<unknown> {
    return this.session.call(procedure, args);
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    await this.session.publish(topic, [payload], {}, { acknowledge: true });
  }

  /** The first message at or after index `from` that `pred` accepts. */
  async waitFor(pred: (m: PlayerMessage) => boolean, ms: number, what: string, from = 0): Promise<{ index: number; m: PlayerMessage; at: number }> {
    const deadline = Date.now() + ms;
    for (;;) {
      for (let i = from; i < this.messages.length; i++) {
        const x = this.messages[i]!;
        if (pred(x.m)) return { index: i, m: x.m, at: x.at };
      }
      if (this.closedWith !== undefined) throw new Error(`${this.guest.name}: closed (${this.closedWith}) while waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`${this.guest.name}: no ${what} within ${ms} ms (messages: ${JSON.stringify(this.messages.slice(from).map((x) => x.m)).slice(0, 500)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Joins `machine`, confirms when asked, and resolves with the control topic once the turn runs. */
  async takeTurn(machine: string, ms = 30_000): Promise<string> {
    const from = this.messages.length;
    await this.call(Procedures.requestSlot, [machine]);
    await this.waitFor((m) => m.type === 'get_ready' && m.machine === machine, ms, 'get_ready', from);
    await this.call(Procedures.turnReady, [machine]);
    const c = await this.waitFor((m) => m.type === 'control' && m.control === true && m.machine === machine, ms, 'control', from);
    return c.m.topic ?? machineUris(machine).control(this.authid);
  }

  /** Drops the claw and resolves with the turn's result. */
  async drop(machine: string, ms = 30_000): Promise<string> {
    const from = this.messages.length;
    await this.publish(machineUris(machine).control(this.authid), { command: 'drop' });
    const r = await this.waitFor((m) => m.type === 'control' && m.control === false && m.machine === machine, ms, 'the result', from);
    return r.m.result ?? '?';
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      try { this.connection.close(); } catch { /* closed */ }
      await Promise.race([this.gone, new Promise((r) => setTimeout(r, 2000))]);
    })());
  }
}
