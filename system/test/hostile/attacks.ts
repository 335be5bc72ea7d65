// The ten attacks of issue 13, as clients over real sockets. Shared by the
// hostile-client suite (system/test/hostile-*.test.ts) and the under-attack
// benchmark (bench/keypress-latency.js --attack <name>).
//
// Every attack is bounded twice: it stops at `phase.until` and after a count
// per client. It runs `phase.addresses.length` clients at once, each from its
// own loopback address. `phase.atPeak` (optional) is called while the attack
// holds what it built (sessions open, a queue filled, attackers queued), and
// the attack lets go only after it returns.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { signTicket } from '@clawgate/router';
import { readKeyFile } from '@clawgate/claw-node';
import { Procedures, machineUris, playerTopic } from '@clawgate/protocol';
import {
  Deflated, WAMP, WampError, forwardedFor, httpRequest, joinWs, mintGuest, openWs, rawFrame, rawSocket,
  type Endpoint, type Guest, type WampClient,
} from './raw-wamp.js';

export interface Target {
  ep: Endpoint;
  /** The system's data folder (secrets.json for forged tickets, keys/ for the claws' keys). */
  dataDir: string;
  /** The machine attacks that need one take turns on, fill, or retain events for. */
  machine: string;
}

export interface Phase {
  /** One client per address, all at once. */
  addresses: string[];
  /** Epoch ms: the attack stops building here. */
  until: number;
  /** Called while the attack holds what it built; it lets go after this resolves. */
  atPeak?: () => Promise<void>;
}

export type Report = Record<string, unknown>;

export interface Attack {
  name: string;
  summary: string;
  run(target: Target, phase: Phase): Promise<Report>;
}

const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => Date.now();

/** Sums the clients' numeric report fields (`…Max` fields: the largest); other fields become lists. */
function merge(reports: Report[]): Report {
  const out: Report = { clients: reports.length };
  for (const r of reports) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === 'number' && k.endsWith('Max')) out[k] = Math.max(out[k] as number | undefined ?? 0, v);
      else if (typeof v === 'number') out[k] = (out[k] as number | undefined ?? 0) + v;
      else out[k] = [...(out[k] as unknown[] | undefined ?? []), v];
    }
  }
  return out;
}

async function eachClient(phase: Phase, fn: (address: string, index: number) => Promise<Report>): Promise<Report> {
  return merge(await Promise.all(phase.addresses.map((a, i) => fn(a, i))));
}

/**
 * For attacks whose clients hold what they built: each client calls the
 * returned function once it has built up; once all have, `atPeak` runs once,
 * and every client's call resolves when it is done.
 */
function peakBarrier(phase: Phase): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => { release = r; });
  const peak = all.then(() => phase.atPeak?.());
  return async () => {
    if (++arrived === phase.addresses.length) release();
    await peak;
  };
}

/** A URI component of `mib` MiB, compressed once (no dots: one component). */
const bigPart = new Map<string, Deflated>();
function big(key: string, bytes: number, fill = 'a'): Deflated {
  let d = bigPart.get(key);
  if (d === undefined) { d = new Deflated(fill.repeat(bytes)); bigPart.set(key, d); }
  return d;
}

/**
 * Floods one compressed WebSocket after another from `address` with messages
 * made by `message(i)` until `until` or `perClient` messages, at most
 * `window` unanswered at once; reconnects when the router closes the session.
 */
async function compressedFlood(ep: Endpoint, address: string, until: number, perClient: number, window: number, message: (i: number) => Buffer, login?: () => Promise<Guest>): Promise<Report> {
  let sent = 0;
  let wire = 0;
  let ok = 0;
  let refused = 0;
  let closedByRouter = 0;
  let connections = 0;
  let notAdmitted = 0;
  while (now() < until && sent < perClient && connections < 20) {
    let s: WampClient;
    try {
      const g = login ? await login() : undefined;
      s = await joinWs(ep, { compress: true, localAddress: address, ...(g ? { auth: g } : {}) });
      connections++;
    } catch {
      notAdmitted++;
      await sleep(100);
      continue;
    }
    const answered = (): number => (s.counts.get(WAMP.SUBSCRIBED) ?? 0) + (s.counts.get(WAMP.PUBLISHED) ?? 0) + (s.counts.get(WAMP.ERROR) ?? 0);
    const base = sent;
    while (now() < until && sent < perClient && !s.closed) {
      const m = message(s.request());
      s.sendDeflated(m);
      wire += m.length;
      sent++;
      while (!s.closed && now() < until && sent - base - answered() >= window) await sleep(2);
    }
    // What is on its way still counts: a short wait for the answers.
    const settle = now() + 500;
    while (!s.closed && answered() < sent - base && now() < settle) await sleep(10);
    ok += (s.counts.get(WAMP.SUBSCRIBED) ?? 0) + (s.counts.get(WAMP.PUBLISHED) ?? 0);
    refused += s.counts.get(WAMP.ERROR) ?? 0;
    if (s.closed) closedByRouter++;
    s.close();
  }
  return { sent, wireBytes: wire, accepted: ok, refused, closedByRouter, connections, notAdmitted };
}

// ---- 1. SUBSCRIBE flood with MiB URIs over a compressed WebSocket -------------

export const SUBSCRIBE_URI_MIB = 4;

export const subscribeFlood: Attack = {
  name: 'subscribe-flood',
  summary: `anonymous spectators over compressed WebSockets send SUBSCRIBEs with match prefix to claw.machine.<${SUBSCRIBE_URI_MIB} MiB id>.status (each ~${SUBSCRIBE_URI_MIB} KiB on the wire)`,
  run: (target, phase) => eachClient(phase, (address, c) => {
    const part = big('uri', SUBSCRIBE_URI_MIB * MiB);
    return compressedFlood(target.ep, address, phase.until, 64, 4,
      (id) => part.message(`[${WAMP.SUBSCRIBE},${id},{"match":"prefix"},"claw.machine.c${c}r${id}t${now()}`, '.status"]'));
  }).then(async (r) => { await phase.atPeak?.(); return r; }),
};

// ---- 2. retained events of a player, left behind ------------------------------

export const RETAIN_PAYLOAD_MIB = 2;

export const retainedGrowth: Attack = {
  name: 'retained-growth',
  summary: `guest players publish with retain:true on claw.machine.<id>.control.<own authid>: a small leftOn on the target machine's topic, then ${RETAIN_PAYLOAD_MIB} MiB payloads (compressed) on made-up machine ids; then they leave`,
  run: (target, phase) => eachClient(phase, async (address, c) => {
    const g = await mintGuest(target.ep, `retainer${c}`, { localAddress: address });
    const part = big('payload', RETAIN_PAYLOAD_MIB * MiB);
    const small = new Deflated('leftOn');
    let k = 0;
    const r = await compressedFlood(target.ep, address, phase.until, 24, 4, (id) => {
      // The first on the real machine's topic, small (what a claw node would be replayed); the rest to hold memory.
      const first = k++ === 0;
      const machine = first ? target.machine : `x${c}k${k}t${now()}`;
      return (first ? small : part).message(`[${WAMP.PUBLISH},${id},{"retain":true,"acknowledge":true},"${machineUris(machine).control(g.authid)}",[{"command":"leftOn","pad":"`, '"}]]');
    }, async () => g);
    return { ...r, authid: g.authid };
  }).then(async (r) => { await phase.atPeak?.(); return r; }),
};

/**
 * What a claw node would be replayed on its control topics: retained events
 * on `claw.machine.<machine>.control.*`, seen by a session of that machine
 * (cryptosign with its key) subscribing with get_retained.
 */
export async function retainedControlEvents(target: Target, machine: string, waitMs = 1000): Promise<{ topic: string; bytes: number }[]> {
  const key = readKeyFile(join(target.dataDir, 'keys', `${machine}.key`));
  const s = await joinWs(target.ep, { login: { method: 'cryptosign', authid: machine, publicKey: key.publicKey, sign: (c) => key.sign(c) } });
  const seen: { topic: string; bytes: number }[] = [];
  try {
    await s.subscribe(machineUris(machine).controlPrefix, { match: 'prefix', get_retained: true }, (args, _kw, details) => {
      if (details.retained === true) seen.push({ topic: String(details.topic), bytes: JSON.stringify(args).length });
    });
    await sleep(waitMs);
  } finally {
    s.close();
  }
  return seen;
}

// ---- 3. rename mid-turn ------------------------------------------------------------

/**
 * Guest players queue on the target machine (in the order of `addresses`),
 * and whenever one is asked it confirms, renames itself during its turn
 * (POST /api/session with its cookie and a new name), and drops; it takes
 * every turn it is offered, up to three, until `until`. `atPeak` runs once
 * all of them are queued (the test queues its normal player behind them).
 */
export const renameMidTurn: Attack = {
  name: 'rename-mid-turn',
  summary: 'players rename themselves (POST /api/session with their cookie and a new name) during their turn, then drop; each takes every turn it is offered (at most 3)',
  async run(target, phase) {
    const m = target.machine;
    const attackers: { g: Guest; s: WampClient; address: string; messages: Record<string, unknown>[]; turns: number; renamed: number; results: string[] }[] = [];
    try {
      for (const [i, address] of phase.addresses.entries()) {
        const g = await mintGuest(target.ep, `renamer${i}`, { localAddress: address });
        const s = await joinWs(target.ep, { auth: g, localAddress: address });
        const a = { g, s, address, messages: [] as Record<string, unknown>[], turns: 0, renamed: 0, results: [] as string[] };
        await s.subscribe(playerTopic(g.authid), {}, (args) => { a.messages.push(args[0] as Record<string, unknown>); });
        await s.call(Procedures.requestSlot, [m]);
        attackers.push(a);
      }
      // Once the player behind is through (asked, or played), there is nothing more to take.
      let peakDone = false;
      const peak = phase.atPeak?.().finally(() => { peakDone = true; });
      await Promise.all(attackers.map(async (a) => {
        let seen = 0;
        while (now() < phase.until && a.turns < 3 && !a.s.closed && !peakDone) {
          const i = a.messages.findIndex((x, j) => j >= seen && x.type === 'get_ready' && x.machine === m);
          if (i < 0) { await sleep(20); continue; }
          seen = i + 1;
          try {
            await a.s.call(Procedures.turnReady, [m]);
            const ctl = await waitMessage(a.messages, seen, (x) => x.type === 'control' && x.control === true && x.machine === m, phase.until);
            if (ctl === undefined) break;
            a.turns++;
            await mintGuest(target.ep, `renamed${a.turns}-${a.g.authid.slice(1, 6)}`, { localAddress: a.address, cookie: a.g.cookie });
            a.renamed++;
            await a.s.publish(String(ctl.m.topic ?? machineUris(m).control(a.g.authid)), [{ command: 'drop' }]);
            const end = await waitMessage(a.messages, ctl.index + 1, (x) => x.type === 'control' && x.control === false && x.machine === m, phase.until + 15_000);
            a.results.push(String(end?.m.result ?? 'none'));
            seen = end ? end.index + 1 : a.messages.length;
          } catch (e) {
            a.results.push(`error: ${(e as Error).message}`);
          }
        }
      }));
      await peak;
      return { attackers: attackers.length, turns: attackers.map((a) => a.turns), renamed: attackers.map((a) => a.renamed), results: attackers.map((a) => a.results), authids: attackers.map((a) => a.g.authid) };
    } finally {
      for (const a of attackers) {
        try { await a.s.call(Procedures.leave, [m], 2000); } catch { /* not queued any more */ }
        a.s.close();
      }
    }
  },
};

async function waitMessage(messages: Record<string, unknown>[], from: number, pred: (m: Record<string, unknown>) => boolean, until: number): Promise<{ index: number; m: Record<string, unknown> } | undefined> {
  for (;;) {
    for (let i = from; i < messages.length; i++) if (pred(messages[i]!)) return { index: i, m: messages[i]! };
    if (now() > until) return undefined;
    await sleep(20);
  }
}

// ---- 4. decode bomb before HELLO -------------------------------------------------------

/** Empty maps in one bomb: 2 Mi of them, 2 MiB inflated, ~2 KiB on the wire (issue 13 used 16 Mi; this is an eighth, to keep the suite short). */
export const BOMB_MIB = 2;

/** A CBOR or MessagePack array of `count` empty maps (what decoders turn into `count` objects). */
export function bombBytes(kind: 'cbor' | 'msgpack', bytes = BOMB_MIB * MiB): { head: Buffer; body: Buffer } {
  const count = bytes - 5;
  const head = Buffer.alloc(5);
  head[0] = kind === 'cbor' ? 0x9a : 0xdd; // array with a 32-bit count
  head.writeUInt32BE(count, 1);
  return { head, body: Buffer.alloc(count, kind === 'cbor' ? 0xa0 : 0x80) }; // empty map
}

const bombs = new Map<string, Buffer>();
/** The bomb as one permessage-deflate message (compressed once). */
function bombMessage(kind: 'cbor' | 'msgpack'): Buffer {
  let m = bombs.get(kind);
  if (m === undefined) {
    const { head, body } = bombBytes(kind);
    m = new Deflated(body).message(head, Buffer.alloc(0));
    bombs.set(kind, m);
  }
  return m;
}

export const decodeBomb: Attack = {
  name: 'decode-bomb',
  summary: `one message before HELLO over a compressed WebSocket: an array of ${BOMB_MIB} Mi empty maps in CBOR (wamp.2.cbor) and in MessagePack (wamp.2.msgpack), ~${BOMB_MIB} KiB on the wire each; a single client sends both in turn, several send one each at once`,
  run: (target, phase) => eachClient(phase, async (address, c) => {
    const kinds: ('cbor' | 'msgpack')[] = phase.addresses.length === 1 ? ['cbor', 'msgpack'] : [c % 2 === 0 ? 'cbor' : 'msgpack'];
    const closedAfterMs: number[] = [];
    let wire = 0;
    let sent = 0;
    for (const kind of kinds) {
      const bomb = bombMessage(kind);
      const s = await openWs(target.ep, { compress: true, protocol: kind === 'cbor' ? 'wamp.2.cbor' : 'wamp.2.msgpack', localAddress: address });
      const t0 = now();
      s.sendDeflated(bomb, 2);
      wire += bomb.length;
      sent++;
      await Promise.race([s.closedAt, sleep(Math.max(0, phase.until - now()) + 30_000)]);
      closedAfterMs.push(now() - t0);
      s.close();
    }
    return { sent, wireBytes: wire, closedAfterMs };
  }).then(async (r) => { await phase.atPeak?.(); return r; }),
};

// ---- 5. one 16 MiB RawSocket frame in small TCP chunks -------------------------------------

export const FRAME_CHUNK = 4096;

export const bigRawSocketFrame: Attack = {
  name: 'rawsocket-16mib-frame',
  summary: `one RawSocket frame of 16 MiB - 1 byte (the most a frame header can say; JSON, before HELLO) written in ${FRAME_CHUNK}-byte pieces`,
  run: (target, phase) => eachClient(phase, async (address) => {
    const c = rawSocket(target.ep, { serializer: 'json', localAddress: address });
    try {
      await c.handshake;
    } catch {
      return { sent: 0, refused: 1 };
    }
    const len = 0xffffff;
    const header = Buffer.alloc(4);
    header.writeUInt32BE(len, 0);
    const payload = Buffer.alloc(len, 0x20);
    const t0 = now();
    c.socket.write(header);
    let off = 0;
    let writes = 0;
    while (off < len && !c.socket.destroyed && now() < phase.until + 30_000) {
      const ok = c.socket.write(payload.subarray(off, off + FRAME_CHUNK));
      off += FRAME_CHUNK;
      if (!ok) await new Promise((r) => { c.socket.once('drain', r); c.socket.once('close', r); });
      else if (++writes % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    const sendMs = now() - t0;
    await Promise.race([c.closed, sleep(Math.max(1000, phase.until - now()))]);
    const closed = c.socket.destroyed || c.socket.readableEnded;
    c.socket.destroy();
    return { sent: 1, bytesSent: Math.min(off, len), sendMs, closedByRouter: closed ? 1 : 0 };
  }).then(async (r) => { await phase.atPeak?.(); return r; }),
};

// ---- 6. session flood from one address ------------------------------------------------------

export const sessionFlood: Attack = {
  name: 'session-flood',
  summary: 'anonymous RawSocket sessions from loopback (JSON HELLO in the same packet as the handshake; no headers, so no forwarded client: the proxy\'s own connections to the router), 100 opening at once per client, all kept open, up to 10,000 per client',
  run: (target, phase) => { const atPeak = peakBarrier(phase); return eachClient(phase, async (address) => {
    const hello = rawFrame(JSON.stringify([WAMP.HELLO, 'claw', { roles: { subscriber: {} }, authmethods: ['anonymous'] }]));
    const open: ReturnType<typeof rawSocket>[] = [];
    let welcomed = 0;
    let refused = 0;
    let attempts = 0;
    const reasons = new Map<string, number>();
    const one = async (): Promise<void> => {
      attempts++;
      const c = rawSocket(target.ep, { serializer: 'json', localAddress: address });
      c.socket.write(hello); // right behind the handshake: one round trip per session
      const answer = await new Promise<string>((resolve) => {
        c.onFrame((_t, p) => resolve(p.subarray(0, 200).toString()));
        void c.closed.then(() => resolve('closed'));
        setTimeout(() => resolve('timeout'), 15_000);
      });
      if (answer.startsWith(`[${WAMP.WELCOME},`)) { welcomed++; open.push(c); return; }
      refused++;
      const why = answer.startsWith(`[${WAMP.ABORT},`) ? String((JSON.parse(answer) as unknown[])[2]) : answer;
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
      c.socket.destroy();
    };
    try {
      await Promise.all(Array.from({ length: 100 }, async () => {
        while (now() < phase.until && welcomed < 10_000 && attempts < 20_000) await one();
      }));
      const held = open.filter((c) => !c.socket.destroyed).length;
      await atPeak();
      return { attempts, welcomed, refused, held, heldMax: held, reasons: Object.fromEntries(reasons) };
    } finally {
      for (const c of open) c.socket.destroy();
    }
  }); },
};

/** The same over WebSocket, each client forwarded by the proxy as one internet address (X-Forwarded-For). */
export const sessionFloodForwarded: Attack = {
  name: 'session-flood-forwarded',
  summary: 'anonymous WebSocket sessions, each client one forwarded address (X-Forwarded-For, as nginx sends it), 50 opening at once per client, all kept open, up to 10,000 per client',
  run: (target, phase) => { const atPeak = peakBarrier(phase); return eachClient(phase, async (address) => {
    const open: WampClient[] = [];
    let welcomed = 0;
    let refused = 0;
    let attempts = 0;
    const reasons = new Map<string, number>();
    try {
      await Promise.all(Array.from({ length: 50 }, async () => {
        while (now() < phase.until && welcomed < 10_000 && attempts < 20_000) {
          attempts++;
          try {
            open.push(await joinWs(target.ep, { localAddress: address, timeoutMs: 10_000 }));
            welcomed++;
          } catch (e) {
            refused++;
            const why = /not welcome: (\S+)/.exec((e as Error).message)?.[1] ?? (e as Error).message.slice(0, 80);
            reasons.set(why, (reasons.get(why) ?? 0) + 1);
            await sleep(20);
          }
        }
      }));
      const held = open.filter((c) => !c.closed).length;
      await atPeak();
      return { attempts, welcomed, refused, held, heldMax: held, reasons: Object.fromEntries(reasons) };
    } finally {
      for (const c of open) c.close();
    }
  }); },
};

// ---- 7. slow POST bodies ------------------------------------------------------------------------

export interface SlowPostOptions { perClient: number; byteEveryMs: number }

/**
 * `perClient` connections per address, each sending the headers of
 * POST /api/session with Content-Length 64 and then one byte of the body
 * every `byteEveryMs`, never finishing. Reports how long the server kept each.
 */
export function slowPost(o: SlowPostOptions = { perClient: 100, byteEveryMs: 1000 }): Attack {
  return {
    name: 'slow-post',
    summary: `${o.perClient} connections per client send POST /api/session headers (Content-Length 64), then one body byte every ${o.byteEveryMs} ms, forever`,
    run: (target, phase) => { const atPeak = peakBarrier(phase); return eachClient(phase, async (address) => {
      const kept: number[] = [];
      let refusedAtOnce = 0;
      const conns = Array.from({ length: o.perClient }, () => new Promise<void>((resolve) => {
        const t0 = now();
        const s = net.connect({ host: target.ep.host, port: target.ep.port, localAddress: address });
        let timer: NodeJS.Timeout | undefined;
        s.on('error', () => {});
        s.on('connect', () => {
          s.write(`POST /api/session HTTP/1.1\r\nHost: ${target.ep.host}\r\nX-Forwarded-For: ${forwardedFor(address)}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{`);
          timer = setInterval(() => { if (now() < phase.until) s.write(' '); }, o.byteEveryMs);
        });
        s.on('close', () => {
          clearInterval(timer);
          const ms = now() - t0;
          if (ms < 100) refusedAtOnce++;
          if (now() < phase.until + 50) kept.push(ms); // closed by the server while we still sent
          resolve();
        });
        const stop = setTimeout(() => { s.destroy(); }, Math.max(0, phase.until - now()) + 100);
        s.once('close', () => clearTimeout(stop));
      }));
      await sleep(Math.min(2000, Math.max(0, phase.until - now())));
      await atPeak();
      await Promise.all(conns);
      return { opened: o.perClient, closedByServer: kept.length, refusedAtOnce, keptMsMax: kept.length ? Math.max(...kept) : 0, stillOpenAtEnd: o.perClient - kept.length };
    }); },
  };
}

// ---- 8. the log amplifier ------------------------------------------------------------------------

export const LOG_URI_MIB = 1;

export const logAmplifier: Attack = {
  name: 'log-amplifier',
  summary: `anonymous spectators over compressed WebSockets send SUBSCRIBEs the spectator role may not make (claw.machine.x.control.<${LOG_URI_MIB} MiB>), ~${LOG_URI_MIB} KiB each on the wire`,
  run: (target, phase) => eachClient(phase, (address, c) => {
    const part = big('log-uri', LOG_URI_MIB * MiB, 'b');
    return compressedFlood(target.ep, address, phase.until, 16, 4,
      (id) => part.message(`[${WAMP.SUBSCRIBE},${id},{},"claw.machine.x.control.c${c}r${id}t${now()}`, '"]'));
  }).then(async (r) => { await phase.atPeak?.(); return r; }),
};

// ---- 9. guest minting and queue filling --------------------------------------------------------------

export const guestMinting: Attack = {
  name: 'guest-minting',
  summary: 'POST /api/session as fast as possible (8 at once per client) until the phase ends, then up to 60 of the minted guests join the target machine\'s queue from the same address; they leave after `atPeak`',
  run: async (target, phase) => {
    const queued: WampClient[] = [];
    let leaveFailed = 0;
    try {
      const r = await eachClient(phase, async (address, c) => {
        const guests: Guest[] = [];
        let refused = 0;
        const statuses = new Map<number, number>();
        const mintUntil = phase.until - 1500; // the rest of the phase fills the queue
        await Promise.all(Array.from({ length: 8 }, async () => {
          while (now() < mintUntil && guests.length + refused < 5000) {
            try { guests.push(await mintGuest(target.ep, `bot${c}`, { localAddress: address })); } catch (e) {
              refused++;
              const st = (e as { status?: number }).status ?? 0;
              statuses.set(st, (statuses.get(st) ?? 0) + 1);
              await sleep(10);
            }
          }
        }));
        let joined = 0;
        const joinErrors = new Map<string, number>();
        await Promise.all(guests.slice(0, 60).map(async (g) => {
          let s: WampClient | undefined;
          try {
            s = await joinWs(target.ep, { auth: g, localAddress: address });
            await s.call(Procedures.requestSlot, [target.machine]);
            joined++;
            queued.push(s);
          } catch (e) {
            const why = e instanceof WampError ? e.uri : (e as Error).message.slice(0, 80);
            joinErrors.set(why, (joinErrors.get(why) ?? 0) + 1);
            s?.close();
          }
        }));
        return { minted: guests.length, mintedMax: guests.length, mintRefused: refused, mintStatuses: Object.fromEntries(statuses), joined, joinErrors: Object.fromEntries(joinErrors) };
      });
      await phase.atPeak?.();
      return r;
    } finally {
      await Promise.all(queued.map(async (s) => {
        try { await s.call(Procedures.leave, [target.machine], 5000); } catch { leaveFailed++; }
        s.close();
      }));
      if (leaveFailed > 0) process.stderr.write(`guest-minting: ${leaveFailed} queued guests could not leave (they keep their place for the grace period)\n`);
    }
  },
};

// ---- 10. an expired ticket renewed ----------------------------------------------------------------------

export const EXPIRED_DAYS = 3;

/** Signs a player ticket for `authid` that expired `daysAgo` days ago, with the system's own secret. */
export function expiredTicket(dataDir: string, authid: string, daysAgo = EXPIRED_DAYS): string {
  const { ticketSecret } = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as { ticketSecret: string };
  return signTicket({ authid, authrole: 'player', expiresAt: now() - daysAgo * 86_400_000 }, ticketSecret);
}

export const expiredTicketRenewal: Attack = {
  name: 'expired-ticket',
  summary: `a player's ticket that expired ${EXPIRED_DAYS} days ago (as if captured then), posted as the cookie to POST /api/session, 10 times per client`,
  run: (target, phase) => eachClient(phase, async (address, c) => {
    const victim = await mintGuest(target.ep, `victim${c}`, { localAddress: address });
    const cookie = `clawgate_ticket=${encodeURIComponent(expiredTicket(target.dataDir, victim.authid))}`;
    let renewed = 0;
    let fresh = 0;
    let refused = 0;
    for (let i = 0; i < 10 && now() < phase.until; i++) {
      const r = await httpRequest(target.ep, {
        method: 'POST', path: '/api/session', localAddress: address, body: JSON.stringify({ name: `thief${c}` }),
        headers: { 'content-type': 'application/json', cookie },
      });
      if (r.status !== 200) { refused++; continue; }
      const a = JSON.parse(r.body) as { authid: string };
      if (a.authid === victim.authid) renewed++; else fresh++;
    }
    return { renewed, fresh, refused };
  }).then(async (r) => { await phase.atPeak?.(); return r; }),
};

export const ATTACKS: readonly Attack[] = [
  subscribeFlood, retainedGrowth, renameMidTurn, decodeBomb, bigRawSocketFrame,
  sessionFlood, sessionFloodForwarded, slowPost(), logAmplifier, guestMinting, expiredTicketRenewal,
];

export function attackByName(name: string): Attack {
  const a = ATTACKS.find((x) => x.name === name);
  if (a === undefined) throw new Error(`no attack "${name}" (${ATTACKS.map((x) => x.name).join(', ')})`);
  return a;
}
