// Which machines this instance owns. Every backend instance serves every
// procedure, but what only one party may do for a machine at a time (its
// ready-check, grace and turn timers, start_turn/end_turn/release with its
// node, reacting to the node's status and events, publishing its players'
// positions and its queue snapshot) is done by the machine's owner: the
// instance named in the machine's lease row (machine_leases), while the
// lease there runs.
//
// - An attached instance claims machines nobody holds (no owner, an expired
//   lease, or an owner that is not attached), at most its fair share at once
//   (machines / live instances); the rest a tick later if still free. A
//   claim bumps the machine's lease epoch: the old owner's fenced writes
//   (Repository.lockMachine with its Fence) fail from then on.
// - It renews its leases every third of `leaseMs`, and only while attached
//   to the router. Its own view of a lease ends `leaseMs` after the renewal
//   began (before the store's, which counts from later): past that it acts
//   no more for the machine until a renewal succeeds.
// - When another instance's router session leaves (kill -9, a crash, a lost
//   link), every instance marks it detached in the store and claims its
//   machines at once: a hand-over takes one round trip, not a lease.
// - An exclusive store (SQLite: one backend per file) is claimed whole at
//   attach, whatever its rows say (they may be a killed predecessor's).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Fence, Repository } from '../db/repository.js';
import type { Logger } from '../logger.js';

export interface LeaseHooks {
  /** This instance now owns `machine` (epoch `epoch`): take it over from the stored state. */
  adopt(machine: string): Promise<void>;
  /** This instance no longer owns `machine`: stop its timers, forget its memory. */
  drop(machine: string): void;
}

export interface LeaseOptions {
  leaseMs: number;
  /** The store admits one backend only: claim everything at attach. */
  exclusive: boolean;
}

/** Instances silent this long are forgotten (their rows only; a machine they named is claimable anyway). */
const FORGET_INSTANCES_MS = 3600_000;

export class Leases {
  /** This instance's id in the store (random per start). */
  readonly instance = `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(4).toString('hex')}`;
  private readonly owned = new Map<string, { epoch: number; validUntil: number }>();
  private session: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** Claims run one at a time (a renewal may run beside one). */
  private claiming: Promise<void> = Promise.resolve();
  /** Machines whose claim is committing now (not in `owned` yet, but not strays either). */
  private readonly claimingNow = new Set<string>();
  /** Claimable machines seen at the last tick (taken now even beyond the fair share). */
  private seenFree = new Set<string>();
  private stopped = false;
  /** stop() gave everything up: nothing more to write. */
  private released = false;

  constructor(
    private readonly repo: Repository,
    private readonly o: LeaseOptions,
    private readonly hooks: LeaseHooks,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Owns `machine` now (and its lease is still good by this instance's clock). */
  owns(machine: string): boolean {
    const l = this.owned.get(machine);
    return l !== undefined && l.validUntil > this.now();
  }

  /** The fence for an owner's transaction on `machine`, or undefined when not owned. */
  fence(machine: string): Fence | undefined {
    const l = this.owned.get(machine);
    return l && l.validUntil > this.now() ? { instance: this.instance, epoch: l.epoch } : undefined;
  }

  /** Machines owned now. */
  machines(): string[] { return [...this.owned.keys()].filter((m) => this.owns(m)).sort(); }

  /** Attached to the router with `session`: register, claim what is free (adopting each), then keep renewing. */
  async attach(session: number): Promise<void> {
    this.session = session;
    this.stopped = false;
    this.released = false;
    await this.repo.registerInstance(this.instance, session, hostname(), process.pid, this.now());
    await this.repo.pruneInstances(FORGET_INSTANCES_MS).catch(() => undefined);
    await this.claimInTurn(this.o.exclusive);
    this.schedule();
  }

  /** Detached from the router: give every lease up at once (another instance can serve the machines; we cannot). */
  async detach(): Promise<void> {
    // After stop() the store may be closed already (the router link closing later detaches again).
    if (this.released) return;
    this.session = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dropAll();
    try {
      await this.repo.detachInstance(this.instance);
      await this.repo.releaseLeases(this.instance);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'releasing the machine leases failed (they expire by themselves)');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ticking;
    await this.claiming;
    await this.detach();
    this.released = true;
  }

  /**
   * A fenced transaction found `machine` taken, or our own view of its lease
   * ran out (a renewal came late): drop it now, and give the lease up in the
   * store if it still names us with that epoch, so that the machine is
   * claimable at once (by us again on the next claim, or by another
   * instance) rather than renewed by us for nobody.
   */
  lost(machine: string): void {
    const l = this.owned.get(machine);
    if (!l) return;
    this.owned.delete(machine);
    this.log.warn({ machine }, 'lost the lease on a machine');
    this.hooks.drop(machine);
    void this.repo.releaseLeases(this.instance, machine, l.epoch)
      .then(() => this.claimSoon(), (e: unknown) => this.log.warn({ machine, err: (e as Error).message }, 'giving a lost lease up failed (it expires by itself)'));
  }

  /** Another backend instance's router session left: mark it detached and claim its machines now. */
  async instanceLeft(session: number): Promise<void> {
    if (this.session === undefined) return;
    const gone = await this.repo.instanceSessionGone(session);
    if (gone) {
      this.log.info({ session }, 'another backend instance left the router: taking over its machines');
      // At once, not after a renewal that may be waiting for a row lock.
      await this.claimInTurn(true);
    }
  }

  /** A machine may have appeared (a node registered): claim soon. */
  claimSoon(): void {
    if (this.session !== undefined) void this.claimInTurn(false).catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'claiming machines failed'));
  }

  private claimInTurn(all: boolean): Promise<void> {
    const next = this.claiming.then(() => this.claim(all));
    this.claiming = next.catch(() => undefined);
    return next;
  }

  private schedule(): void {
    if (this.stopped || this.session === undefined) return;
    this.timer = setTimeout(() => { void this.tick(false).finally(() => this.schedule()); }, this.o.leaseMs / 3);
    this.timer.unref?.();
  }

  /** Renew, then claim. One at a time; `urgent` claims past the fair share. */
  private tick(urgent: boolean): Promise<void> {
    const run = async () => {
      await this.ticking;
      if (this.session === undefined || this.stopped) return;
      await this.renew();
      await this.claimInTurn(urgent);
    };
    const p = run().catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'lease renewal failed'));
    this.ticking = p;
    return p;
  }

  private async renew(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    const started = this.now();
    let renewed: { id: string; leaseEpoch: number }[];
    try {
      renewed = await this.repo.renewLeases(this.instance, session, this.o.leaseMs);
    } catch (e) {
      // The store is unreachable: keep acting until our view of the leases runs out.
      for (const [m, l] of this.owned) if (l.validUntil <= this.now()) { this.owned.delete(m); this.hooks.drop(m); }
      throw e;
    }
    if (this.session !== session) return;
    const still = new Map(renewed.map((r) => [r.id, r.leaseEpoch]));
    for (const [m, l] of [...this.owned]) {
      if (still.get(m) !== l.epoch) { this.lost(m); continue; }
      // Our view had run out (the renewal came late): events and timers of the machine were ignored
      // meanwhile. Still ours: take it over again from the store, as a new owner would.
      const lapsed = l.validUntil <= this.now();
      l.validUntil = started + this.o.leaseMs;
      if (lapsed) {
        this.log.warn({ machine: m }, 'lease renewed late: taking the machine over again from the store');
        void this.hooks.adopt(m).catch((e: unknown) => this.log.warn({ machine: m, err: (e as Error).message }, 'taking a machine over failed'));
      }
    }
    // Rows that name us but that we do not act for (a release that failed): give them up, or nobody runs the machine.
    for (const [m, epoch] of still) {
      if (!this.owned.has(m) && !this.claimingNow.has(m)) await this.repo.releaseLeases(this.instance, m, epoch).catch(() => undefined);
    }
  }

  private async claim(all: boolean): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    const free = (await this.repo.claimableMachines()).map((r) => r.id);
    let budget = Infinity;
    if (!all && !this.o.exclusive) {
      const total = (await this.repo.machines()).length;
      const live = Math.max(1, await this.repo.liveInstances(this.o.leaseMs * 2));
      budget = Math.max(0, Math.ceil(total / live) - this.machines().length);
    }
    const take = free.filter((m, i) => all || this.o.exclusive || i < budget || this.seenFree.has(m));
    this.seenFree = new Set(free.filter((m) => !take.includes(m)));
    const forced = this.o.exclusive && all;
    const claims = this.o.exclusive && all ? (await this.repo.machines()).map((m) => m.id) : take;
    // One transaction per machine, side by side: a hand-over of many machines takes one round of them.
    await Promise.all(claims.map(async (m) => {
      if (this.session !== session || this.stopped) return;
      // Claimable while we think we own it: the store says our lease ran out; it is taken anew (new epoch).
      if (this.owned.has(m)) { this.owned.delete(m); this.hooks.drop(m); }
      const started = this.now();
      this.claimingNow.add(m);
      let epoch: number | undefined;
      try {
        epoch = await this.repo.claimMachine(m, this.instance, this.o.leaseMs, forced);
        if (epoch === undefined || this.session !== session) return;
        this.owned.set(m, { epoch, validUntil: started + this.o.leaseMs });
      } finally {
        this.claimingNow.delete(m);
      }
      this.log.info({ machine: m, epoch }, 'took over a machine');
      await this.hooks.adopt(m);
    }));
  }

  private dropAll(): void {
    for (const m of [...this.owned.keys()]) { this.owned.delete(m); this.hooks.drop(m); }
  }
}
