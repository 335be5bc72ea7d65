// The video service on the backend's router session: claw.video.* registered
// (invoke `single`: viewers' handles live in this process, so one backend of
// a realm has the `video` section), session departures followed through the
// meta API, and each call's arguments validated once here. The caller is the
// router-disclosed one (the claw realm's permissions disclose every caller
// of claw.video.*); a call without it is refused.
import { ClawErrors, Roles, VideoProcedures, AnswerArgs, SourceArgs, StopArgs, WatchArgs } from '@clawgate/protocol';
import { autobahn, type AutobahnSession, type InvocationDetails } from '@clawgate/runtime';
import type { Logger } from '../logger.js';
import { registerOrTakeOver } from '../register-own.js';
import type { Caller, VideoService } from './video-service.js';
import { VideoFault } from './video-fault.js';

const VIEWER_ROLES = new Set<string>([Roles.player, Roles.spectator, Roles.operator]);

interface Schema<T> { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: (string | number)[]; message: string }[] } } }

function parse<T>(schema: Schema<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new VideoFault(ClawErrors.invalidArgument, `${i.path.join('.') || 'argument'}: ${i.message}`);
}

function callerOf(d: InvocationDetails, roles: ReadonlySet<string>): Caller & { authid: string } {
  if (typeof d.caller !== 'number' || typeof d.caller_authid !== 'string') throw new VideoFault(ClawErrors.notIdentified, 'the caller is not disclosed');
  if (!roles.has(d.caller_authrole ?? '')) throw new VideoFault('wamp.error.not_authorized', `role ${String(d.caller_authrole)} may not do this`);
  return { session: d.caller, role: d.caller_authrole, authid: d.caller_authid };
}

export async function bindVideo(session: AutobahnSession, video: VideoService, log: Logger, ours: ReadonlySet<number> = new Set()): Promise<void> {
  await session.subscribe('wamp.session.on_leave', (args) => {
    const id = args?.[0];
    if (typeof id === 'number') video.sessionLeft(id);
  });
  // Sessions that left while this backend was away from the router.
  try {
    const ids = new Set((await session.call('wamp.session.list')) as number[]);
    video.sessionsPresent(ids);
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'video: could not read the session list');
  }

  const procedure = (name: string, fn: (args: unknown[], kwargs: Record<string, unknown>, details: InvocationDetails) => unknown) =>
    registerOrTakeOver(session, name, async (args, kwargs, details) => {
      try {
        return await fn(args ?? [], kwargs ?? {}, details ?? {});
      } catch (e) {
        if (e instanceof VideoFault) throw new autobahn.Error(e.uri, [e.message], e.kwargs);
        log.error({ procedure: name, err: (e as Error).message }, 'video procedure failed');
        throw new autobahn.Error('wamp.error.runtime_error', ['internal error in the video service']);
      }
    }, 'single', ours, log);
  /** args[0] as an object, or the machine id string for watch. */
  const arg0 = (a: unknown[], k: Record<string, unknown>) => a[0] ?? k;

  await procedure(VideoProcedures.watch, (a, k, d) => {
    const raw = arg0(a, k);
    const { machine } = parse(WatchArgs, typeof raw === 'string' ? { machine: raw } : raw);
    return video.watch(callerOf(d, VIEWER_ROLES), machine);
  });
  await procedure(VideoProcedures.answer, (a, k, d) => {
    const { viewer, answer } = parse(AnswerArgs, arg0(a, k));
    return video.answer(callerOf(d, VIEWER_ROLES), viewer, { type: 'answer', sdp: answer.sdp });
  });
  await procedure(VideoProcedures.stop, (a, k, d) => video.stop(callerOf(d, VIEWER_ROLES), parse(StopArgs, arg0(a, k)).viewer));
  await procedure(VideoProcedures.source, (a, k, d) => {
    const node = callerOf(d, new Set([Roles.claw]));
    return video.source(node.authid, node.session, parse(SourceArgs, arg0(a, k)).port);
  });
  await procedure(VideoProcedures.stats, (_a, _k, d) => {
    callerOf(d, new Set([Roles.operator]));
    return video.stats();
  });
  log.info({ session: session.id }, 'video procedures registered');
}
