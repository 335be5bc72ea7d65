// The router: realms, listeners, the HTTP app, and the lifecycle that ties
// them together. Embeddable (`new Router(config).start()`) and used by the CLI.
import express, { type Express } from 'express';
import { Realm, TRUSTED_ROLE, type RealmConfig } from './realm/realm.js';
import { Session, type SessionHost } from './session/session.js';
import { Listener, type ListenerConfig, type SessionFactory } from './transport/listener.js';
import type { Transport } from './transport/transport.js';
import { LocalTransport } from './transport/local-transport.js';
import { LocalSession } from './local-session.js';
import { createLogger, type Logger } from './logger.js';
import { WampErrors } from './errors.js';
import type { AuthPolicy } from './auth/auth-policy.js';

export interface RouterConfig {
  realms: RealmConfig[];
  listeners: ListenerConfig[];
}

export interface RouterOptions {
  log?: Logger;
}

export class Router implements SessionHost, SessionFactory {
  readonly log: Logger;
  readonly app: Express;
  private readonly realms = new Map<string, Realm>();
  private readonly listeners: Listener[] = [];
  private readonly sessions = new Set<Session>();
  private started = false;

  constructor(readonly config: RouterConfig, options: RouterOptions = {}) {
    this.log = options.log ?? createLogger();
    for (const r of config.realms) this.addRealm(r);
    this.app = express();
    this.app.disable('x-powered-by');
    this.app.get('/health', (_req, res) => {
      const ready = this.started && this.listeners.every((l) => l.listening);
      res.status(ready ? 200 : 503).json({ status: ready ? 'ok' : 'starting', realms: [...this.realms.keys()], sessions: this.sessions.size });
    });
    for (const l of config.listeners) this.listeners.push(new Listener(l, this, this.app, this.log));
  }

  addRealm(config: RealmConfig): Realm {
    if (this.realms.has(config.name)) throw new Error(`realm "${config.name}" already exists`);
    const realm = new Realm(config, this.log);
    this.realms.set(config.name, realm);
    return realm;
  }

  realm(name: string): Realm | undefined {
    return this.realms.get(name);
  }

  findRealm(name: string): Realm | undefined {
    return this.realms.get(name);
  }

  /** Ports actually bound, by listener id (useful with port 0). */
  ports(): Record<string, number> {
    return Object.fromEntries(this.listeners.map((l) => [l.config.id, l.port]));
  }

  async start(): Promise<this> {
    try {
      for (const l of this.listeners) await l.start();
    } catch (e) {
      await Promise.all(this.listeners.map((l) => l.stop()));
      throw e;
    }
    this.started = true;
    return this;
  }

  /** GOODBYE (wamp.close.system_shutdown) to every session, then close listeners. */
  async stop(graceMs = 1000): Promise<void> {
    this.started = false;
    const open = [...this.sessions];
    for (const s of open) s.goodbye(WampErrors.systemShutdown, 'router is shutting down', graceMs);
    const deadline = Date.now() + graceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.listeners.map((l) => l.stop()));
  }

  openSession(transport: Transport, auth: AuthPolicy): Session {
    const session = new Session(transport, this, auth);
    this.sessions.add(session);
    return session;
  }

  sessionClosed(session: Session): void {
    this.sessions.delete(session);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * An in-process session on `realm`. Its role defaults to `trusted`
   * (everything allowed) unless the realm's config defines that role.
   */
  async localSession(realm: string, opts: { authid?: string; authrole?: string } = {}): Promise<LocalSession> {
    const authrole = opts.authrole ?? TRUSTED_ROLE;
    const ls = LocalSession.open((deliver, closed) => {
      const transport = new LocalTransport(deliver, closed);
      return this.openSession(transport, { anonymous: { type: 'static', role: authrole, authid: opts.authid } });
    }, realm);
    await ls.ready();
    return ls;
  }
}
