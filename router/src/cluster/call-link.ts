// One realm's calls across the cluster (docs/cluster.md, "RPC").
//
// The registration table is a JetStream key-value bucket per realm: one key
// per (registration, node, callee session), written before the callee gets
// REGISTERED and deleted when it stops holding it; every node watches the
// bucket and makes each callee of another node an observer of the
// registration in its own dealer (a RemoteCallee), ordered by the time it
// registered. So exact beats prefix beats wildcard, and every invocation
// policy picks among all the callees of the cluster, with the dealer's code.
// `single` is a claim key (compare-and-swap create): a second REGISTER on
// any node finds it taken.
//
// An INVOCATION for a callee of another node goes on that node's call
// subject; its callee's YIELD and ERROR come back on the caller's node's
// subject. NATS keeps one connection's messages on one subject in order, so
// progressive chunks and results, and an INTERRUPT after its INVOCATION,
// arrive in the order sent.
//
// An INVOCATION goes with a reply subject that names it. NATS answers on it
// (status 503, "no responders") when nobody listens on the callee node's
// subject: the node's process is gone (NATS saw its connection close) or it
// is reconnecting. The invocation was not delivered: the dealer sends the
// call to another callee of a shared registration, or it gets its ERROR
// then, not when the node is seen gone (up to 2.75 s later).
import type { Subscription } from '@nats-io/transport-node';
import type { KV, KvEntry } from '@nats-io/kv';
import type { RouterMessage } from '../messages/types.js';
import { MessageType } from '../messages/types.js';
import type { InvokePolicy, MatchPolicy } from '../messages/options.js';
import type { ClientFeatures } from '../messages/client-features.js';
import type { Peer } from '../routing/peer.js';
import type { DealerClusterLink } from '../dealer/cluster-link.js';
import type { Realm } from '../realm/realm.js';
import { IdSequence, NODE_SLOTS } from '../ids.js';
import { WampErrors } from '../errors.js';
import { shortUri } from '../uri.js';
import { RemoteCallee, RemoteCallers, type RemoteSink } from './remote-peers.js';
import { realmToken, type LinkHost } from './realm-link.js';
import { WatchedBucket } from './watched-bucket.js';
import { claimKey, isConflict } from './kv-claim.js';
import { CallKind, decodeCall, encodeAnswer, encodeInterrupt, encodeInvoke, encodeRevoke, type WireCall } from './call-wire.js';

/** How long a CALL that found no callee waits for the registration table at most. */
export const TABLE_WAIT_MS = 1000;

export interface CallHost extends LinkHost {
  /** Is the NATS connection up? During an outage cross-node calls fail at once. */
  readonly connected: boolean;
  /** This run of the node (membership.ts): a node restarted under its name has another. */
  readonly instance: string;
  /** The run of another live node, or undefined when it is not seen. */
  instanceOf(node: string): string | undefined;
}

/** A registration as the bucket keeps it. */
interface Entry { node: string; instance: string; uri: string; match: MatchPolicy; invoke: InvokePolicy; session: number; authid: string; authrole: string; features: ClientFeatures; stamp: number }

interface PeerNode {
  requests: IdSequence;
  callers: RemoteCallers;
  /** Its invocations in flight here: its request id → the callee session (its answers name the callee, so that node finds the call). */
  inflight: Map<number, number>;
  /**
   * Its greatest request id seen here. Its ids come from one sequence and
   * arrive in order (one subject), so an INVOCATION with an id not above it
   * that is not open is a late chunk of a progressive call that ended here.
   */
  lastRequest: number;
}

/** A table entry as the watcher last saw it (registration entries and single claims both name their node and its run). */
interface Held { node?: string; instance?: string; revision: number; raw: KvEntry }

/** A rewrite of this node's entries that failed is tried again after this long, doubling up to the max. */
const REWRITE_RETRY_MS = 1000;
const REWRITE_RETRY_MAX_MS = 30_000;

export class CallLink implements DealerClusterLink, RemoteSink {
  private bucket: WatchedBucket | undefined;
  private sub: Subscription | undefined;
  private undeliveredSub: Subscription | undefined;
  private readonly subjectPrefix: string;
  /** `<prefix><this node>.nr.`: the reply subjects of this node's INVOCATIONs, where NATS says one found nobody. */
  private readonly undeliveredPrefix: string;
  private readonly bucketName: string;
  /** Callees of other nodes, by `node/session`. */
  private readonly callees = new Map<string, RemoteCallee>();
  /** Per other node: the invocation id sequence of calls to it, and the peer that stands for its callers here. */
  private readonly nodes = new Map<string, PeerNode>();
  /** This node's registrations in the table: key → entry (written again when another node joins). */
  private readonly mine = new Map<string, Entry>();
  /** This node's `single` claims: registration id → revision. */
  private readonly singles = new Map<number, number>();
  private lastStamp = 0;
  /** The highest table revision the watcher has handed over. */
  private seenRevision = 0;
  private readonly waiters: { revision: number; done: () => void }[] = [];
  /** The table as the watcher delivered it (no second read of the bucket is ever needed). */
  private readonly table = new Map<string, Held>();
  private stopped = false;

  constructor(private readonly host: CallHost, private readonly realm: Realm) {
    const token = realmToken(realm.name);
    this.subjectPrefix = `${host.cluster}.r.${token}.call.`;
    this.undeliveredPrefix = `${this.subjectPrefix}${host.node}.nr.`;
    this.bucketName = `${host.cluster}_registrations_${token}`;
  }

  get log(): LinkHost['log'] { return this.host.log; }

  async start(): Promise<void> {
    const { nc } = this.host;
    this.sub = nc.subscribe(this.subjectPrefix + this.host.node, { callback: (err, msg) => { if (err === null) this.received(msg.data); } });
    // `<undeliveredPrefix><callee's node>.<callee>.<request>`: where NATS says an INVOCATION found nobody.
    this.undeliveredSub = nc.subscribe(`${this.undeliveredPrefix}*.*.*`, { callback: (err, msg) => {
      if (err === null && msg.headers?.code === 503) this.undelivered(msg.subject);
    } });
    // Every entry there is, then every change: the watcher carries the table to this node.
    this.bucket = await WatchedBucket.open(this.host, this.bucketName, (e) => this.changed(e), { what: 'registration', realm: this.realm.name });
  }

  private get kv(): KV | undefined { return this.bucket?.kv; }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.sub?.unsubscribe();
    this.undeliveredSub?.unsubscribe();
    void this.bucket?.stop();
    for (const w of this.waiters.splice(0)) w.done();
  }

  private key(id: number, node: string, session: number): string { return `r${id}.${node}.${session}`; }

  // ---- DealerClusterLink ----------------------------------------------------

  isRemote(peer: Peer): boolean { return peer instanceof RemoteCallee || peer instanceof RemoteCallers; }

  async register(session: Peer, id: number, uri: string, match: MatchPolicy, invoke: InvokePolicy, force: boolean): Promise<{ refused: [string, string] } | { stamp: number }> {
    const kv = this.kv;
    if (kv === undefined || !this.host.connected) return { refused: [WampErrors.clusterUnavailable, 'the cluster is unreachable (NATS connection lost): registrations wait until it is back'] };
    const now = Date.now() * NODE_SLOTS + this.host.slot;
    const stamp = this.lastStamp = now > this.lastStamp ? now : this.lastStamp + NODE_SLOTS;
    const claim = `single.r${id}`;
    try {
      if (invoke === 'single') {
        const value = JSON.stringify({ node: this.host.node, instance: this.host.instance, session: session.id, authid: session.authid });
        const revision = await this.claim(claim, value, id, session, force);
        if (revision === undefined) return { refused: [WampErrors.procedureAlreadyExists, `procedure "${shortUri(uri)}" is already registered (on a node of the cluster)`] };
        this.singles.set(id, revision);
      } else {
        const held = await kv.get(claim);
        if (held !== null && held.operation === 'PUT') {
          return { refused: [WampErrors.differentInvocationPolicy, `procedure "${shortUri(uri)}" is already registered with invoke policy "single", not "${invoke}"`] };
        }
      }
      const entry: Entry = { node: this.host.node, instance: this.host.instance, uri, match, invoke, session: session.id, authid: session.authid, authrole: session.authrole, features: session.features, stamp };
      const key = this.key(id, this.host.node, session.id);
      this.mine.set(key, entry);
      await kv.put(key, JSON.stringify(entry));
      return { stamp };
    } catch (e) {
      this.host.log.warn({ err: (e as Error).message, realm: this.realm.name }, 'registration not written to the cluster table');
      this.unregistered(session, id);
      return { refused: [WampErrors.clusterUnavailable, `the registration could not be made known to the cluster: ${(e as Error).message}`] };
    }
  }

  /**
   * Claims a `single` registration cluster-wide (create). With `force`
   * (force_reregister), one held on another node is taken over
   * (compare-and-swap) if its callee has the same authid, as on one node;
   * that callee's node is told to take it from it. Resolves with the
   * claim's revision, or undefined when it is someone else's.
   */
  private async claim(claim: string, value: string, id: number, session: Peer, force: boolean): Promise<number | undefined> {
    const kv = this.kv!;
    // A few rounds: the holder may let go between our create and our read (it was told to by this very REGISTER).
    for (let round = 0; round < 5; round++) {
      const { revision, holder: held } = await claimKey(kv, claim, value);
      if (revision !== undefined) return revision;
      if (!force) return undefined;
      let holder: { node?: string; session?: number; authid?: string } = {};
      try { holder = held.json(); } catch { return undefined; }
      if (holder.authid !== session.authid || holder.node === undefined || holder.session === undefined) return undefined;
      if (holder.node === this.host.node) return undefined; // this node's own: the dealer decided already
      try {
        const revision = await kv.update(claim, value, held.revision);
        this.publish(holder.node, encodeRevoke(this.host.node, holder.session, id, 'replaced by a force_reregister of the same authid'));
        // The old callee's entry goes now, not when its node gets round to it: that node may be dead and
        // not yet seen gone (up to 2.75 s), and meanwhile every node would still route calls to it.
        void kv.delete(this.key(id, holder.node, holder.session)).catch(() => undefined);
        return revision;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
    return undefined;
  }

  unregistered(session: Peer, id: number): void {
    const key = this.key(id, this.host.node, session.id);
    if (!this.mine.delete(key)) return;
    void this.kv?.delete(key).catch(() => undefined);
    const rev = this.singles.get(id);
    if (rev !== undefined) {
      this.singles.delete(id);
      void this.kv?.delete(`single.r${id}`, { previousSeq: rev }).catch(() => undefined);
    }
  }

  sessionLeft(session: Peer): void {
    if (this.isRemote(session)) return;
    const tail = `.${this.host.node}.${session.id}`;
    for (const key of [...this.mine.keys()]) if (key.endsWith(tail)) this.unregistered(session, Number(key.slice(1, key.length - tail.length)));
  }

  revokeRemote(callee: Peer, id: number, reason: string): void {
    if (!(callee instanceof RemoteCallee)) return;
    this.publish(callee.node, encodeRevoke(this.host.node, callee.id, id, reason));
  }

  tableCurrent(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined || !this.host.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, TABLE_WAIT_MS);
      const done = (): void => { clearTimeout(timer); resolve(); };
      kv.status().then((s) => {
        const last = s.streamInfo.state.last_seq;
        if (last <= this.seenRevision) { done(); return; }
        this.waiters.push({ revision: last, done });
      }, done);
    });
  }

  // ---- the table ----------------------------------------------------------

  private changed(e: KvEntry): void {
    if (e.revision > this.seenRevision) this.seenRevision = e.revision;
    let held: Held | undefined;
    if (e.operation === 'PUT') {
      try { held = { ...e.json<{ node?: string; instance?: string }>(), revision: e.revision, raw: e }; } catch { this.host.counters.malformed++; }
    }
    if (held === undefined) this.table.delete(e.key); else this.table.set(e.key, held);
    try { this.apply(e.key, held); } catch (err) { this.host.log.error({ err, realm: this.realm.name }, 'internal error while applying a cluster registration'); }
    if (held === undefined) this.repair(e.key);
    if (this.waiters.length > 0) {
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i]!.revision <= this.seenRevision) this.waiters.splice(i, 1)[0]!.done();
      }
    }
  }

  /** An entry of the table, or its removal (held undefined), made effective in this node's dealer. */
  private apply(key: string, held: Held | undefined): void {
    const m = /^r(\d+)\.([A-Za-z0-9_-]+)\.(\d+)$/.exec(key);
    if (m === null) return;
    const [, idText, node, sessionText] = m;
    if (node === this.host.node) return;
    const id = Number(idText);
    const session = Number(sessionText);
    const dealer = this.realm.dealer;
    if (held === undefined) {
      const callee = this.callees.get(`${node}/${session}`);
      if (callee === undefined) return;
      dealer.detachRemote(callee, id);
      if (dealer.observations.heldBy(callee) === 0 && dealer.serving(callee) === 0) this.callees.delete(`${node}/${session}`);
      return;
    }
    // Only the entries of the run of that node we see (not an old run's that a cleanup has yet to delete).
    if (this.host.instanceOf(node!) !== held.instance) return;
    const entry = held.raw.json<Entry>();
    dealer.attachRemote(this.callee(node!, session, entry), entry.uri, entry.match, entry.invoke, entry.stamp);
  }

  private callee(node: string, session: number, entry: Entry): RemoteCallee {
    const k = `${node}/${session}`;
    let c = this.callees.get(k);
    if (c === undefined) {
      c = new RemoteCallee(this, node, session, entry.authid, entry.authrole, entry.features, this.peerNode(node).requests);
      this.callees.set(k, c);
    }
    return c;
  }

  private peerNode(node: string): PeerNode {
    let n = this.nodes.get(node);
    if (n === undefined) {
      // The request ids to a node go on from where they were when it was taken for gone: it may not have taken this
      // node for gone (a stall, a delay one way), and it drops an INVOCATION whose id is not above its last one.
      let requests = this.sequences.get(node);
      if (requests === undefined) this.sequences.set(node, requests = new IdSequence());
      // Likewise its last request id seen here, while it is the same run (a restarted node's ids begin again).
      const seen = this.lastRequests.get(node);
      const lastRequest = seen !== undefined && seen.instance === this.host.instanceOf(node) ? seen.last : 0;
      n = { requests, callers: new RemoteCallers(this, node), inflight: new Map(), lastRequest };
      this.nodes.set(node, n);
    }
    return n;
  }

  /** The request id sequence to each node ever seen, by name (kept past its loss: peerNode). */
  private readonly sequences = new Map<string, IdSequence>();
  /** Each lost node's last request id seen here, with its run (peerNode). */
  private readonly lastRequests = new Map<string, { instance: string; last: number }>();

  // ---- membership -----------------------------------------------------------

  /**
   * A node (re)appeared, or NATS is back: the others may have dropped this
   * node's registrations while they did not see it, so they are written
   * again; and the entries of the table this node skipped while it did not
   * see their node are applied now.
   */
  resync(): void {
    const kv = this.kv;
    if (kv === undefined || this.stopped) return;
    if (this.rewriting) this.rewriteAgain = true; else void this.rewrite(kv);
    for (const [key, held] of this.table) this.apply(key, held);
  }

  private rewriting = false;
  private rewriteAgain = false;

  /**
   * This node's entries written again, a `single` one's after its claim:
   * the others deleted the claims with the entries, and without the claim a
   * REGISTER elsewhere would be let through beside ours. One rewrite at a
   * time (another asked for meanwhile runs after it).
   */
  private async rewrite(kv: KV): Promise<void> {
    this.rewriting = true;
    try {
      do {
        this.rewriteAgain = false;
        let ok = true;
        for (const [key, entry] of [...this.mine]) ok = await this.rewriteOne(kv, key, entry) && ok;
        if (ok) this.retryDelay = REWRITE_RETRY_MS;
      } while (this.rewriteAgain && !this.stopped);
    } finally {
      this.rewriting = false;
    }
  }

  /** One of this node's entries written again (a `single` one after its claim; not at all when the claim is another's now). */
  private async rewriteOne(kv: KV, key: string, entry: Entry): Promise<boolean> {
    if (entry.invoke === 'single') {
      let kept: boolean;
      try {
        kept = await this.reclaim(kv, key, entry);
      } catch {
        // Not written without its claim (a second callee could slip in): the whole rewrite is tried again soon.
        this.retryRewrite();
        return false;
      }
      if (!kept) return true;
    }
    if (this.mine.get(key) === entry) void kv.put(key, JSON.stringify(entry)).catch(() => this.retryRewrite());
    return true;
  }

  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = REWRITE_RETRY_MS;

  /**
   * A rewrite that failed (JetStream not quite back) runs again, once
   * however many failed, after 1 s, doubling to 30 s while they keep
   * failing. Not while NATS is away: its return resyncs anyway.
   */
  private retryRewrite(): void {
    if (this.retryTimer !== undefined || this.stopped || !this.host.connected) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, REWRITE_RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => { this.retryTimer = undefined; this.resync(); }, delay);
    this.retryTimer.unref();
  }

  /**
   * A delete of one of this node's live entries or claims, which it did
   * not make (its own deletes forget the entry first): another node took
   * this one for gone (a stall, a delay in NATS). Written again, as at a
   * resync; a claim another callee holds now is left to it (reclaim).
   */
  private repair(key: string): void {
    const kv = this.kv;
    if (kv === undefined || this.stopped || !this.host.connected || this.host.fenced) return;
    let mine = key;
    if (key.startsWith('single.r')) {
      const id = Number(key.slice('single.r'.length));
      if (!this.singles.has(id)) return;
      const prefix = `r${id}.${this.host.node}.`;
      mine = [...this.mine.keys()].find((k) => k.startsWith(prefix)) ?? '';
    }
    const entry = this.mine.get(mine);
    if (entry !== undefined) void this.rewriteOne(kv, mine, entry);
  }

  /**
   * This node's `single` claim for `entry`, made again if it is gone.
   * Resolves false when another callee holds it now (registered while this
   * node was not seen: that one stays, and ours is revoked here, with
   * UNREGISTERED to a callee that understands it).
   */
  private async reclaim(kv: KV, key: string, entry: Entry): Promise<boolean> {
    const id = Number(key.slice(1, key.indexOf('.')));
    const value = JSON.stringify({ node: this.host.node, instance: this.host.instance, session: entry.session, authid: entry.authid });
    const { revision } = await claimKey(kv, `single.r${id}`, value);
    if (this.mine.get(key) !== entry) {
      // Unregistered while we asked (its delete of the claim went to the old revision): the claim made now goes too,
      // unless a REGISTER of the same session took it meanwhile as its own (same value).
      if (revision !== undefined && this.singles.get(id) !== revision) void kv.delete(`single.r${id}`, { previousSeq: revision }).catch(() => undefined);
      return false;
    }
    if (revision !== undefined) { this.singles.set(id, revision); return true; }
    this.singles.delete(id); // someone else's: not ours to delete when our callee goes
    const session = this.realm.sessions.get(entry.session);
    const reg = this.realm.dealer.observations.get(id);
    if (session !== undefined && reg !== undefined) this.realm.dealer.removeObserver(reg, session, 'registered by another callee while this router node was cut off from the cluster');
    return false;
  }

  /**
   * A node is gone: its callees are no longer registered here (on_unregister,
   * on_delete), calls in flight to them end with ERROR, calls its callers made
   * here are interrupted; the entries and claims of that run of it are
   * deleted from the table (every node that saw it go does so, by
   * compare-and-swap; it writes them again if it comes back).
   */
  nodeLeft(node: string, instance: string): void {
    const dealer = this.realm.dealer;
    for (const [k, c] of [...this.callees]) {
      if (c.node !== node) continue;
      this.callees.delete(k);
      dealer.sessionLeft(c, [WampErrors.clusterUnavailable, `the callee's router node "${node}" is gone with the call in flight`]);
    }
    const n = this.nodes.get(node);
    if (n !== undefined) {
      // Taken for gone, it may be alive and not know it (a stall, a delay one way): its callers waiting on calls here
      // get an ERROR rather than wait for ever (sent before it is forgotten; to a dead node it goes nowhere).
      for (const request of [...n.inflight.keys()]) {
        n.callers.sendError(MessageType.CALL, request, WampErrors.clusterUnavailable, [`this router node took the caller's node "${node}" for gone with the call in flight`]);
      }
      this.nodes.delete(node);
      this.lastRequests.set(node, { instance, last: n.lastRequest });
      dealer.sessionLeft(n.callers);
    }
    const kv = this.kv;
    if (kv === undefined || this.stopped || !this.host.connected) return;
    for (const [key, held] of this.table) {
      if (held.node === node && held.instance === instance) void kv.delete(key, { previousSeq: held.revision }).catch(() => undefined);
    }
  }

  /** NATS is unreachable: calls in flight to other nodes' callees end with ERROR now (their answers could not come back). */
  disconnected(): void {
    for (const c of this.callees.values()) this.realm.dealer.failInvocations(c, WampErrors.clusterUnavailable, `the connection to the cluster was lost with the call in flight`);
  }

  // ---- messages -------------------------------------------------------------

  private publish(node: string, bytes: Uint8Array, reply?: string): boolean {
    const { nc } = this.host;
    if (!this.host.connected || nc.isClosed()) return false;
    try {
      nc.publish(this.subjectPrefix + node, bytes, reply === undefined ? undefined : { reply });
      this.host.counters.sent++;
      return true;
    } catch {
      this.host.counters.sendFailures++;
      return false;
    }
  }

  private get maxBytes(): number { return Math.max(0, (this.host.nc.info?.max_payload ?? 1024 * 1024)); }

  /** The dealer sends an INVOCATION or INTERRUPT to a callee of another node. */
  toCallee(callee: RemoteCallee, message: RouterMessage): void {
    if (message.type === MessageType.INVOCATION) {
      const bytes = encodeInvoke(this.host.node, message.request, callee.id, message.registration, message.details, message);
      const fail = (error: string, why: string): void => {
        // After the dealer has recorded the call: the answer comes as the callee's would.
        queueMicrotask(() => this.realm.dealer.invocationError(callee, { type: MessageType.ERROR, requestType: MessageType.INVOCATION, request: message.request, details: {}, error, args: [why] }));
      };
      if (bytes.length > this.maxBytes) { this.host.counters.tooLarge++; fail(WampErrors.payloadTooLarge, `the call is too large to reach a callee on another cluster node (${bytes.length} bytes; NATS max_payload ${this.maxBytes})`); return; }
      const reply = `${this.undeliveredPrefix}${callee.node}.${callee.id}.${message.request}`;
      if (!this.publish(callee.node, bytes, reply)) fail(WampErrors.clusterUnavailable, `the callee is on router node "${callee.node}", which can't be reached now (NATS connection lost)`);
    } else if (message.type === MessageType.INTERRUPT) {
      this.publish(callee.node, encodeInterrupt(this.host.node, message.request, message.options));
    }
    // UNREGISTERED (revocation) goes as revokeRemote(); nothing else is sent to a callee.
  }

  /** The dealer answers another node's caller (RESULT, progressive or final, or ERROR). */
  toCallers(node: string, message: RouterMessage): void {
    if (message.type !== MessageType.RESULT && message.type !== MessageType.ERROR) return;
    const inflight = this.nodes.get(node)?.inflight;
    const callee = inflight?.get(message.request);
    if (inflight === undefined || callee === undefined) return;
    if (message.type === MessageType.ERROR || message.details.progress !== true) inflight.delete(message.request);
    let bytes = encodeAnswer(this.host.node, callee, message);
    if (bytes.length > this.maxBytes) {
      this.host.counters.tooLarge++;
      bytes = encodeAnswer(this.host.node, callee, { type: MessageType.ERROR, requestType: MessageType.CALL, request: message.request, details: {}, error: WampErrors.payloadTooLarge, args: [`the callee's answer is too large to reach the caller's cluster node (${bytes.length} bytes; NATS max_payload ${this.maxBytes})`] });
    }
    this.publish(node, bytes);
  }

  /** NATS found nobody on a callee node's subject for an INVOCATION (its reply subject names it): another callee, or ERROR. */
  private undelivered(subject: string): void {
    const [node, callee, request] = subject.slice(this.undeliveredPrefix.length).split('.');
    const peer = this.callees.get(`${node}/${callee}`);
    if (peer === undefined) return;
    this.host.counters.sendFailures++;
    // Ignored by the dealer if that invocation has ended meanwhile.
    this.realm.dealer.undelivered(peer, Number(request), {
      type: MessageType.ERROR, requestType: MessageType.INVOCATION, request: Number(request), details: {},
      error: WampErrors.clusterUnavailable, args: [`the callee's router node "${node}" is not listening on the cluster (gone, or reconnecting to NATS); the call was not delivered`],
    });
  }

  private received(bytes: Uint8Array): void {
    let m: WireCall;
    try { m = decodeCall(bytes); } catch (e) {
      this.host.counters.malformed++;
      this.host.log.warn({ err: (e as Error).message, realm: this.realm.name }, 'malformed call message from a cluster node dropped');
      return;
    }
    this.host.counters.received++;
    const dealer = this.realm.dealer;
    try {
      switch (m.kind) {
        case CallKind.Invoke: {
          const peer = this.peerNode(m.from);
          if (m.request <= peer.lastRequest && !dealer.continuesCall(peer.callers, m.request)) return;
          peer.lastRequest = m.request;
          const callee = this.realm.sessions.get(m.callee);
          peer.inflight.set(m.request, m.callee);
          if (callee === undefined) { peer.callers.sendError(MessageType.CALL, m.request, WampErrors.clusterUnavailable, ['the callee left its router node']); return; }
          dealer.invokeRemote(peer.callers, m.request, callee, m.registration, m.details, m.progress, m.data);
          return;
        }
        case CallKind.Interrupt: {
          const peer = this.peerNode(m.from);
          dealer.interruptRemote(peer.callers, m.request, m.options);
          // Only `kill` waits for the callee's answer; the caller's node has answered already otherwise.
          if (m.options.mode !== 'kill') peer.inflight.delete(m.request);
          return;
        }
        case CallKind.Result: {
          const callee = this.callees.get(`${m.from}/${m.callee}`);
          if (callee === undefined) return;
          dealer.yield(callee, { type: MessageType.YIELD, request: m.request, options: m.details, ...m.data });
          return;
        }
        case CallKind.Error: {
          const callee = this.callees.get(`${m.from}/${m.callee}`);
          if (callee === undefined) return;
          dealer.invocationError(callee, { type: MessageType.ERROR, requestType: MessageType.INVOCATION, request: m.request, details: m.details, error: m.error, ...m.data });
          return;
        }
        case CallKind.Revoke: {
          const session = this.realm.sessions.get(m.callee);
          const reg = dealer.observations.get(m.registration);
          if (session !== undefined && reg !== undefined) dealer.removeObserver(reg, session, m.reason);
          return;
        }
      }
    } catch (e) {
      this.host.log.error({ err: e, realm: this.realm.name }, 'internal error while handling a call message from another cluster node');
    }
  }
}

