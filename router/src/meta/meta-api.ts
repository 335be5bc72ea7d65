// The WAMP meta API: procedures under `wamp.` answered by the router itself,
// and the meta events it publishes. Argument shapes follow the spec and
// Crossbar, which autobahn clients and the backend rely on. The session
// procedures and testaments are here; the subscription and registration
// procedures come from one builder (observation-procedures.ts), the
// persistent subscriptions' from persistent-procedures.ts.
import type { Dict } from '../messages/types.js';
import { WampError, WampErrors } from '../errors.js';
import { isDict } from '../messages/validate.js';
import { isValidUri, shortUri } from '../uri.js';
import { checkPublishOptions } from '../messages/options.js';
import type { Decision } from '../auth/permissions.js';
import type { MatchPolicy } from '../messages/options.js';
import type { Peer } from '../routing/peer.js';
import type { PublicationData } from '../routing/publication.js';
import type { RealmContext } from '../routing/realm-context.js';
import { disclose } from '../routing/disclosure.js';
import type { Observation, ObservationOwner } from '../routing/observation-map.js';
import type { Testaments, TestamentScope } from './testaments.js';
import { arg, isNumber, isString, type MetaProcedure } from './meta-args.js';
import { observationProcedures } from './observation-procedures.js';
import { persistentProcedures } from './persistent-procedures.js';
import { MERGED_PROCEDURES, mergeAnswers, type ClusterMeta, type NodeAnswer } from './cluster-answers.js';

/** What the meta API answers about, besides its realm. */
export interface MetaSources {
  readonly sessions: ReadonlyMap<number, Peer>;
  readonly testaments: Testaments;
  readonly subscriptions: ObservationOwner<Observation>;
  readonly registrations: ObservationOwner<Observation>;
  /** The broker's event history (broker/event-history.ts), when the realm keeps one. */
  readonly history?: EventHistoryReader | null;
  /** What a subscription's event filter (x_filter) lets through, for reading its history; null when it has none. */
  readonly eventFilter?: (subscription: number) => ((topic: string, data: PublicationData) => boolean) | null;
}

/** What `wamp.subscription.get_events` needs of the event history. */
export interface EventHistoryReader {
  has(uri: string, match: MatchPolicy): boolean;
  eventsFor(uri: string, match: MatchPolicy, reader: Peer, limit: number, accept?: (topic: string, data: PublicationData) => boolean): Dict[] | undefined;
}

/** A session on another node of the cluster, as its node wrote it to the cluster's session table. */
export interface RemoteSession {
  readonly id: number;
  readonly node: string;
  readonly authid: string;
  readonly authrole: string;
  readonly details: Dict;
}

/** The sessions of the realm's other nodes (cluster/session-link.ts), on a cluster node. */
export interface ClusterSessions {
  /** The sessions of every other live node. */
  remote(): RemoteSession[];
  get(id: number): RemoteSession | undefined;
  /** Has each session's node end it (GOODBYE with `reason`). */
  kill(sessions: RemoteSession[], reason: string, message: string | undefined): void;
}

/** Events `wamp.subscription.get_events` returns unless asked for fewer (Crossbar's default). */
const DEFAULT_EVENTS = 10;

function roleFilter(args: unknown[]): ((s: { authrole: string }) => boolean) {
  const roles = args[0];
  if (roles === undefined || roles === null) return () => true;
  if (!Array.isArray(roles) || !roles.every(isString)) {
    throw new WampError(WampErrors.invalidArgument, ['filter_authroles must be a list of strings']);
  }
  const set = new Set(roles);
  return (s) => set.has(s.authrole);
}

function scopeOf(v: unknown): TestamentScope {
  if (v === undefined || v === null) return 'destroyed';
  if (v === 'destroyed' || v === 'detached') return v;
  throw new WampError(WampErrors.invalidArgument, [`testament scope must be "destroyed" or "detached", got ${JSON.stringify(v)}`]);
}

// On a cluster node every meta procedure answers for the cluster: the session
// procedures from the cluster's session table (cluster/session-link.ts), the
// subscription procedures by merging every node's answer (cluster-answers.ts),
// the `wamp.registration.*` procedures from this node's dealer, which holds the
// callees of all nodes (cluster/call-link.ts), `clawgate.persistent.*` from
// this node's copy of the cluster's persistent subscriptions
// (cluster/persistent-link.ts).

const REMOVE_SUBSCRIBER = 'wamp.subscription.remove_subscriber';

export class MetaApi {
  private readonly handlers: Record<string, MetaProcedure>;
  /** The realm is spread over a cluster (Realm.joinCluster): the session procedures answer for every node. */
  cluster: ClusterSessions | null = null;
  /** On a cluster node: the other nodes, asked for their part of the subscription procedures. */
  clusterMeta: ClusterMeta | null = null;

  constructor(realm: RealmContext, sources: MetaSources) {
    const { sessions, testaments } = sources;
    const session = (id: number): Peer => {
      const s = sessions.get(id);
      if (s === undefined) throw new WampError(WampErrors.noSuchSession, [`no session ${id} on realm "${realm.name}"`]);
      return s;
    };
    const kill = (caller: Peer, targets: Peer[], kwargs: Dict, remote: RemoteSession[] = []): number[] => {
      const reason = typeof kwargs.reason === 'string' ? kwargs.reason : WampErrors.killed;
      const message = typeof kwargs.message === 'string' ? kwargs.message : undefined;
      if (!isValidUri(reason, 'loose')) throw new WampError(WampErrors.invalidUri, [`invalid close reason URI "${reason}"`]);
      const killed: number[] = [];
      for (const t of targets) {
        if (t === caller) continue;
        killed.push(t.id);
        t.goodbye(reason, message);
      }
      if (remote.length > 0) {
        this.cluster?.kill(remote, reason, message);
        for (const r of remote) killed.push(r.id);
      }
      return killed;
    };
    // On a cluster node the other nodes' sessions too (their entries in the cluster's session table).
    const remote = (keep: (s: RemoteSession) => boolean): RemoteSession[] => this.cluster === null ? [] : this.cluster.remote().filter(keep);

    this.handlers = {
      'wamp.session.count': (_c, args) => { const f = roleFilter(args); return [...sessions.values()].filter(f).length + remote(f).length; },
      'wamp.session.list': (_c, args) => { const f = roleFilter(args); return [...[...sessions.values()].filter(f), ...remote(f)].map((s) => s.id); },
      'wamp.session.get': (_c, args) => {
        const id = arg(args, 0, 'session', isNumber);
        const r = sessions.has(id) ? undefined : this.cluster?.get(id);
        return r !== undefined ? r.details : session(id).details();
      },
      'wamp.session.kill': (caller, args, kwargs) => {
        const id = arg(args, 0, 'session', isNumber);
        const r = sessions.has(id) ? undefined : this.cluster?.get(id);
        if (r !== undefined) { kill(caller, [], kwargs, [r]); return undefined; }
        const target = session(id);
        // The spec answers a kill of the caller's own session with no_such_session.
        if (target === caller) throw new WampError(WampErrors.noSuchSession, ['a session cannot kill itself; send GOODBYE']);
        kill(caller, [target], kwargs);
        return undefined;
      },
      'wamp.session.kill_by_authid': (caller, args, kwargs) => {
        const authid = arg(args, 0, 'authid', isString);
        return kill(caller, [...sessions.values()].filter((s) => s.authid === authid), kwargs, remote((s) => s.authid === authid));
      },
      'wamp.session.kill_by_authrole': (caller, args, kwargs) => {
        const authrole = arg(args, 0, 'authrole', isString);
        // The spec answers with the number killed (Crossbar: the list of their ids, as kill_by_authid).
        return kill(caller, [...sessions.values()].filter((s) => s.authrole === authrole), kwargs, remote((s) => s.authrole === authrole)).length;
      },
      'wamp.session.add_testament': (caller, args, kwargs) => {
        const topic = arg(args, 0, 'topic', isString);
        const bad = realm.uriRefusal(caller, topic, 'testament topic');
        if (bad !== undefined) throw new WampError(WampErrors.invalidUri, [bad]);
        if (topic.startsWith('wamp.')) throw new WampError(WampErrors.invalidUri, [`topic "${shortUri(topic)}" is reserved for the router`]);
        const tArgs = args[1] ?? [];
        const tKwargs = args[2] ?? {};
        if (!Array.isArray(tArgs)) throw new WampError(WampErrors.invalidArgument, ['testament args must be a list']);
        if (!isDict(tKwargs)) throw new WampError(WampErrors.invalidArgument, ['testament kwargs must be a dict']);
        const publishOptions = kwargs.publish_options ?? {};
        if (!isDict(publishOptions)) throw new WampError(WampErrors.invalidArgument, ['publish_options must be a dict']);
        try { checkPublishOptions(publishOptions); } catch (e) { throw new WampError(WampErrors.invalidArgument, [(e as Error).message]); }
        const scope = scopeOf(kwargs.scope);
        const max = caller.limits.maxTestaments;
        if (max !== null && testaments.count(caller) >= max) {
          caller.refused('too_many_testaments', 'too many testaments', { max_testaments: max });
          throw new WampError(WampErrors.tooManyTestaments, [`this session already has ${max} testaments (max_testaments); flush some first`]);
        }
        const add = (decision: Decision): undefined => {
          if (!decision.allow) {
            realm.denied(caller, topic, 'publish', 'testament');
            throw new WampError(WampErrors.notAuthorized, [`session is not authorized to publish to topic "${shortUri(topic)}"`]);
          }
          if (publishOptions.retain === true && !(decision.retain ?? decision.allow)) {
            caller.refused('retain_not_allowed', 'retain not allowed', { uri: shortUri(topic), what: 'testament' });
            throw new WampError(WampErrors.notAuthorized, [`role "${caller.authrole}" may not retain events on topic "${shortUri(topic)}"`]);
          }
          const details: Dict = {};
          if (decision.disclose) disclose(details, 'publisher', caller);
          testaments.add(caller, scope, { topic, data: { args: tArgs, kwargs: tKwargs, details }, options: publishOptions });
          return undefined;
        };
        // The testament is published as this session, so its permission is checked now.
        const decision = realm.decide(caller, topic, 'publish', publishOptions);
        return decision instanceof Promise ? decision.then(add) : add(decision);
      },
      'wamp.session.flush_testaments': (caller, _args, kwargs) => testaments.flush(caller, scopeOf(kwargs.scope)),

      'wamp.subscription.get_events': (caller, args) => {
        const id = arg(args, 0, 'subscription', isNumber);
        const limit = args[1] === undefined || args[1] === null ? DEFAULT_EVENTS : arg(args, 1, 'limit', isNumber);
        if (!Number.isInteger(limit) || limit < 1) throw new WampError(WampErrors.invalidArgument, ['limit must be a positive integer']);
        const sub = sources.subscriptions.observations.get(id);
        if (sub === undefined) throw new WampError(WampErrors.noSuchSubscription, [`no subscription ${id} on realm "${realm.name}"`]);
        const history = sources.history;
        if (history === undefined || history === null || !history.has(sub.uri, sub.match)) {
          throw new WampError(WampErrors.historyUnavailable, [`no event history is kept for ${sub.match} subscriptions to "${shortUri(sub.uri)}"`]);
        }
        // The events go to whoever may subscribe to them: the reader's own subscribe permission decides.
        const read = (d: Decision): Dict[] => {
          if (!d.allow) {
            realm.denied(caller, sub.uri, 'subscribe', 'event history');
            throw new WampError(WampErrors.notAuthorized, [`session is not authorized to subscribe to "${shortUri(sub.uri)}", so not to its history either`]);
          }
          return history.eventsFor(sub.uri, sub.match, caller, limit, sources.eventFilter?.(sub.id) ?? undefined) ?? [];
        };
        const decision = realm.decide(caller, sub.uri, 'subscribe', {}, sub.match);
        return decision instanceof Promise ? decision.then(read) : read(decision);
      },
      ...observationProcedures(sources.subscriptions),
      ...observationProcedures(sources.registrations),
      ...(sources.subscriptions.persistent === undefined ? {} : persistentProcedures(sources.subscriptions.persistent)),
    };
  }

  has(procedure: string): boolean {
    return Object.hasOwn(this.handlers, procedure);
  }

  /** Answers a meta procedure; throws WampError for a caller's mistake. */
  call(caller: Peer, procedure: string, args: unknown[], kwargs: Dict): unknown {
    const h = Object.hasOwn(this.handlers, procedure) ? this.handlers[procedure] : undefined;
    if (h === undefined) throw new WampError(WampErrors.noSuchProcedure, [`no meta procedure "${shortUri(procedure)}" on this router`]);
    const meta = this.clusterMeta;
    if (meta !== null) {
      if (MERGED_PROCEDURES.has(procedure)) return this.merged(meta, h, caller, procedure, args, kwargs);
      if (procedure === REMOVE_SUBSCRIBER) {
        const remote = typeof args[1] === 'number' ? this.cluster?.get(args[1]) : undefined;
        if (remote !== undefined) {
          // The subscriber's node removes it; the reason is settled here (the default names the caller).
          const given = args[2] ?? kwargs.reason;
          if (given !== undefined && given !== null && typeof given !== 'string') throw new WampError(WampErrors.invalidArgument, ['reason must be a string']);
          const reason = given ?? `removed by session ${caller.id}`;
          return meta.ask(procedure, [args[0], args[1], reason], {}, caller.id, remote.node).then(([a]) => {
            if (a !== undefined && !a.ok) throw new WampError(a.error, a.args);
            return undefined;
          });
        }
      }
    }
    return h(caller, args, kwargs);
  }

  /** This node's answer merged with every other node's. An error other than "no such subscription" here is the caller's mistake: not asked further. */
  private async merged(meta: ClusterMeta, h: MetaProcedure, caller: Peer, procedure: string, args: unknown[], kwargs: Dict): Promise<unknown> {
    let mine: NodeAnswer;
    try {
      mine = { ok: true, value: h(caller, args, kwargs) };
    } catch (e) {
      if (!(e instanceof WampError) || e.uri !== WampErrors.noSuchSubscription) throw e;
      mine = { ok: false, error: e.uri, args: e.args };
    }
    return mergeAnswers(procedure, [mine, ...await meta.ask(procedure, args, kwargs, caller.id)]);
  }

  /**
   * Another node's question (cluster/meta-link.ts): this node's own part of a
   * subscription procedure. `caller` is the asking session's id; the
   * procedures asked never act on it (remove_subscriber comes with its reason).
   */
  answerForCluster(procedure: string, args: unknown[], kwargs: Dict, caller: number): unknown {
    if (!MERGED_PROCEDURES.has(procedure) && procedure !== REMOVE_SUBSCRIBER) throw new WampError(WampErrors.noSuchProcedure, [`${procedure} is not asked of other nodes`]);
    const h = this.handlers[procedure]!;
    return h({ id: caller } as unknown as Peer, args, kwargs);
  }
}
