// The WAMP meta API: procedures under `wamp.` answered by the router itself,
// and the meta events it publishes. Argument shapes follow the spec and
// Crossbar, which autobahn clients and the backend rely on.
import type { Dict } from '../messages/types.js';
import type { Session } from '../session/session.js';
import type { Realm } from '../realm/realm.js';
import { MATCH_POLICIES, type MatchPolicy } from '../messages/options.js';
import { WampError, WampErrors } from '../errors.js';
import { subscriptionDetails } from '../broker/broker.js';
import { registrationDetails } from '../dealer/dealer.js';
import { isDict } from '../messages/validate.js';
import { isValidUri, shortUri } from '../uri.js';
import { checkPublishOptions } from '../messages/options.js';
import type { TestamentScope } from './testaments.js';
import type { Decision } from '../auth/permissions.js';

type Handler = (caller: Session, args: unknown[], kwargs: Dict) => unknown;

function arg<T>(args: unknown[], i: number, name: string, check: (v: unknown) => v is T): T {
  const v = args[i];
  if (!check(v)) throw new WampError(WampErrors.invalidArgument, [`argument ${i + 1} (${name}) is missing or has the wrong type`]);
  return v;
}
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isMatch = (v: unknown): v is MatchPolicy => typeof v === 'string' && (MATCH_POLICIES as readonly string[]).includes(v);

function roleFilter(args: unknown[]): ((s: Session) => boolean) {
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

/** The reason a revoked callee or subscriber is told: the caller's (3rd argument or kwargs.reason), or who removed it. */
function removalReason(caller: Session, positional: unknown, kwargs: Dict): string {
  const given = positional ?? kwargs.reason;
  if (given === undefined || given === null) return `removed by session ${caller.id}`;
  if (typeof given !== 'string') throw new WampError(WampErrors.invalidArgument, ['reason must be a string']);
  return given;
}

export class MetaApi {
  private readonly handlers: Record<string, Handler>;

  constructor(private readonly realm: Realm) {
    const broker = () => realm.broker;
    const dealer = () => realm.dealer;
    const session = (id: number): Session => {
      const s = realm.sessions.get(id);
      if (s === undefined) throw new WampError(WampErrors.noSuchSession, [`no session ${id} on realm "${realm.name}"`]);
      return s;
    };
    const subscription = (id: number) => {
      const s = broker().get(id);
      if (s === undefined) throw new WampError(WampErrors.noSuchSubscription, [`no subscription ${id}`]);
      return s;
    };
    const registration = (id: number) => {
      const r = dealer().get(id);
      if (r === undefined) throw new WampError(WampErrors.noSuchRegistration, [`no registration ${id}`]);
      return r;
    };
    const kill = (caller: Session, targets: Session[], kwargs: Dict): number[] => {
      const reason = typeof kwargs.reason === 'string' ? kwargs.reason : WampErrors.killed;
      const message = typeof kwargs.message === 'string' ? kwargs.message : undefined;
      if (!isValidUri(reason, 'loose')) throw new WampError(WampErrors.invalidUri, [`invalid close reason URI "${reason}"`]);
      const killed: number[] = [];
      for (const t of targets) {
        if (t === caller) continue;
        killed.push(t.id);
        t.goodbye(reason, message);
      }
      return killed;
    };

    this.handlers = {
      'wamp.session.count': (_c, args) => [...realm.sessions.values()].filter(roleFilter(args)).length,
      'wamp.session.list': (_c, args) => [...realm.sessions.values()].filter(roleFilter(args)).map((s) => s.id),
      'wamp.session.get': (_c, args) => session(arg(args, 0, 'session', isNumber)).details(),
      'wamp.session.kill': (caller, args, kwargs) => {
        const target = session(arg(args, 0, 'session', isNumber));
        // The spec answers a kill of the caller's own session with no_such_session.
        if (target === caller) throw new WampError(WampErrors.noSuchSession, ['a session cannot kill itself; send GOODBYE']);
        kill(caller, [target], kwargs);
        return undefined;
      },
      'wamp.session.kill_by_authid': (caller, args, kwargs) => {
        const authid = arg(args, 0, 'authid', isString);
        return kill(caller, [...realm.sessions.values()].filter((s) => s.authid === authid), kwargs);
      },
      'wamp.session.kill_by_authrole': (caller, args, kwargs) => {
        const authrole = arg(args, 0, 'authrole', isString);
        return kill(caller, [...realm.sessions.values()].filter((s) => s.authrole === authrole), kwargs);
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
        if (max !== null && realm.testaments.count(caller) >= max) {
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
          if (decision.disclose) {
            details.publisher = caller.id;
            details.publisher_authid = caller.authid;
            details.publisher_authrole = caller.authrole;
          }
          realm.testaments.add(caller, scope, { topic, data: { args: tArgs, kwargs: tKwargs, details }, options: publishOptions });
          return undefined;
        };
        // The testament is published as this session, so its permission is checked now.
        const decision = realm.decide(caller, topic, 'publish', publishOptions);
        return decision instanceof Promise ? decision.then(add) : add(decision);
      },
      'wamp.session.flush_testaments': (caller, _args, kwargs) => realm.testaments.flush(caller, scopeOf(kwargs.scope)),

      'wamp.subscription.list': () => ({ exact: broker().list('exact'), prefix: broker().list('prefix'), wildcard: broker().list('wildcard') }),
      'wamp.subscription.lookup': (_c, args) => {
        const topic = arg(args, 0, 'topic', isString);
        const options = isDict(args[1]) ? args[1] : {};
        const match = options.match === undefined ? 'exact' : options.match;
        if (!isMatch(match)) throw new WampError(WampErrors.invalidArgument, ['options.match must be exact, prefix or wildcard']);
        return broker().lookup(topic, match)?.id ?? null;
      },
      'wamp.subscription.match': (_c, args) => {
        const ids = broker().matching(arg(args, 0, 'topic', isString)).map((s) => s.id);
        return ids.length > 0 ? ids : null;
      },
      'wamp.subscription.get': (_c, args) => subscriptionDetails(subscription(arg(args, 0, 'subscription', isNumber))),
      'wamp.subscription.list_subscribers': (_c, args) => [...subscription(arg(args, 0, 'subscription', isNumber)).subscribers].map((s) => s.id),
      'wamp.subscription.count_subscribers': (_c, args) => subscription(arg(args, 0, 'subscription', isNumber)).subscribers.size,
      'wamp.subscription.remove_subscriber': (caller, args, kwargs) => {
        const sub = subscription(arg(args, 0, 'subscription', isNumber));
        const id = arg(args, 1, 'subscriber', isNumber);
        const subscriber = [...sub.subscribers].find((s) => s.id === id);
        if (subscriber === undefined) throw new WampError(WampErrors.noSuchSession, [`session ${id} is not a subscriber of subscription ${sub.id}`]);
        broker().removeSubscriber(sub, subscriber, removalReason(caller, args[2], kwargs));
        return undefined;
      },

      'wamp.registration.list': () => ({ exact: dealer().list('exact'), prefix: dealer().list('prefix'), wildcard: dealer().list('wildcard') }),
      'wamp.registration.lookup': (_c, args) => {
        const procedure = arg(args, 0, 'procedure', isString);
        const options = isDict(args[1]) ? args[1] : {};
        const match = options.match === undefined ? 'exact' : options.match;
        if (!isMatch(match)) throw new WampError(WampErrors.invalidArgument, ['options.match must be exact, prefix or wildcard']);
        return dealer().lookup(procedure, match)?.id ?? null;
      },
      'wamp.registration.match': (_c, args) => dealer().best(arg(args, 0, 'procedure', isString))?.id ?? null,
      'wamp.registration.get': (_c, args) => registrationDetails(registration(arg(args, 0, 'registration', isNumber))),
      'wamp.registration.list_callees': (_c, args) => registration(arg(args, 0, 'registration', isNumber)).callees.map((s) => s.id),
      'wamp.registration.count_callees': (_c, args) => registration(arg(args, 0, 'registration', isNumber)).callees.length,
      'wamp.registration.remove_callee': (caller, args, kwargs) => {
        const reg = registration(arg(args, 0, 'registration', isNumber));
        const id = arg(args, 1, 'callee', isNumber);
        const callee = reg.callees.find((s) => s.id === id);
        if (callee === undefined) throw new WampError(WampErrors.noSuchSession, [`session ${id} is not a callee of registration ${reg.id}`]);
        dealer().removeCallee(reg, callee, removalReason(caller, args[2], kwargs));
        return undefined;
      },
    };
  }

  has(procedure: string): boolean {
    return Object.hasOwn(this.handlers, procedure);
  }

  /** Answers a meta procedure; throws WampError for a caller's mistake. */
  call(caller: Session, procedure: string, args: unknown[], kwargs: Dict): unknown {
    const h = Object.hasOwn(this.handlers, procedure) ? this.handlers[procedure] : undefined;
    if (h === undefined) throw new WampError(WampErrors.noSuchProcedure, [`no meta procedure "${shortUri(procedure)}" on this router`]);
    return h(caller, args, kwargs);
  }

  /** Publishes a meta event to whoever subscribed to it (no publisher session). */
  publish(topic: string, args: unknown[]): void {
    this.realm.broker.publishInternal(topic, { args, details: {} });
  }
}
