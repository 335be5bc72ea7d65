// The player page: I/O and DOM around the pure state in src/logic. Every
// input (HTTP answers, WAMP events, call results, clicks) is validated at
// this edge, becomes an action for `reduce`, and the DOM is redrawn from the
// resulting state.
import type { EventDetails, Session, Subscription } from 'autobahn';
import {
  ClawErrors, EventPayload, LinesPayload, MachineSummary, PlayerMessage, Procedures, QueueSnapshot, SlotResult, StatusPayload,
  machineUris, nameProblem, playerTopic, type Command, type Direction,
} from '@clawgate/protocol';
import {
  MAX_EVENTS, reduce, initialState, holdsPlace, pageTitle, phaseFor, phaseMachine, placeShown, readyPrompt, type Action, type PlayerState,
} from '../src/logic/player-state.js';
import { TopicCursor } from '../src/logic/catch-up.js';
import { HoldRepeater, keyToControl } from '../src/logic/controls.js';
import { describeConnection, type ConnectionState } from '../src/logic/connection.js';
import { clock, positionText, removedText, resultText, secondsLeft, stateLabel, untilText, waitText } from '../src/logic/format.js';
import { boxView, videoKind } from '../src/logic/claw-view.js';
import { dropText } from '../src/logic/drop-progress.js';
import { ReadyAlert } from './ready-alert.js';
import { createSession, loadClientConfig, wsUrl, type ClientConfig } from './api.js';
import { WampLink, watchedBy, type Credentials } from './wamp-link.js';
import { readHistory } from './history.js';
import { ClawBox } from './claw-box.js';
import { LiveVideo } from './video.js';
import { byId, errorUri, h, onNextFrame, setText, show, syncList } from './dom.js';

const NAME_KEY = 'clawgate.name';
const QUEUE_KEY = 'clawgate.queue';
/** The machine of the turn this page was playing, so a reload that finds the turn gone can say so. */
const TURN_KEY = 'clawgate.turn';
/** Refresh the ticket this long before it expires. */
const TICKET_MARGIN_MS = 60_000;
const LOBBY_REFRESH_MS = 10_000;
/** Messages to the player read back from the event history after a reconnect: far more than a few seconds away bring. */
const PLAYER_HISTORY = 50;
/**
 * The player topic is a persistent subscription (x_persistent, docs/web-client.md "Catching up"):
 * what the backend sends while no page of the player is connected (a turn's result during a
 * reload or a blink) is kept by the router for this long, and replayed to the next page.
 */
const PLAYER_SUBSCRIPTION = { name: 'player-page', ttl: 300 };
/** Refusals after which the player topic is subscribed plainly (a router that keeps no persistent subscription for this player). */
const NOT_PERSISTENT = new Set(['wamp.error.option_not_allowed', 'wamp.error.invalid_option', 'clawgate.error.too_many_subscriptions']);

let state: PlayerState = initialState;
let connection: ConnectionState = { kind: 'connecting', attempt: 1 };
let config: ClientConfig;
let login: { authid: string; ticket: string; expiresAt: number; name: string } | undefined;
let skewMs = 0;
let link: WampLink;
let repeater: HoldRepeater | undefined;
/** Moved to once the next draw has shown it (a hidden element cannot take focus). */
let focusAfterDraw: string | undefined;
let scrollTurnIntoView = false;
const box = new ClawBox('The claw machine seen from above');
/** The machine's live video over WebRTC (video.ts); the drawn box shows while it does not play. */
let live: LiveVideo | undefined;
let readyAlert: ReadyAlert;
/** Whether the turn panel's own get-ready prompt is on screen (else the banner shows it). */
let inlinePromptVisible = false;
/** Phones: one column, where the box and the pad must share the screen during a turn. */
const narrow = window.matchMedia('(max-width: 859px)');

// ---- state changes ----------------------------------------------------------

function dispatch(a: Action): void {
  const before = state;
  state = reduce(state, a);
  if (state !== before) afterChange(before);
  // Not in draw(): a hidden tab gets no animation frames, and the title is what such a player sees.
  const title = pageTitle(state);
  if (document.title !== title) document.title = title;
  render();
}

/** Side effects of a phase change: persistence, focus, controls, announcements. */
function afterChange(before: PlayerState): void {
  // Another machine on screen: its recent turns from the event history (the list holds one machine's).
  if (state.selected !== before.selected && state.selected !== undefined && link?.session) void fillRecent(link.session, state.selected);
  const p = state.phase;
  // Only a place the backend confirmed survives a reload (a join still in flight is not one).
  if (holdsPlace(p) && p.kind !== 'joining') localStorage.setItem(QUEUE_KEY, phaseMachine(p)!);
  else if (!holdsPlace(p) && (p.kind !== 'idle' || before.phase.kind !== 'idle')) localStorage.removeItem(QUEUE_KEY);
  if (p.kind === 'playing') localStorage.setItem(TURN_KEY, p.machine);
  else if (p.kind !== 'joining' && p.kind !== 'starting') localStorage.removeItem(TURN_KEY);

  if (p.kind === 'playing' && before.phase.kind === 'playing' && p.topic !== before.phase.topic) startControls(p.topic);
  if (p.kind === before.phase.kind) return;
  if (before.phase.kind === 'playing') stopControls();
  if (p.kind === 'playing') startControls(p.topic);
  const announce = byId('announce');
  switch (p.kind) {
    case 'get_ready':
      setText(announce, `Get ready, you're up on ${p.machine}! Press Enter or the I'm ready button.`);
      focusAfterDraw = 'ready';
      readyAlert.ring();
      break;
    case 'playing':
      setText(announce, 'Your turn has started. Steer with the arrow keys, drop with Space.');
      focusAfterDraw = 'turn';
      // Phones: the machine panel to the top of the screen, so the box and the pad are both in view.
      scrollTurnIntoView = narrow.matches;
      break;
    case 'result':
      setText(announce, resultText(p.result).title);
      focusAfterDraw = 'again';
      break;
    case 'removed':
      setText(announce, removedText(p.reason, p.blockedUntil, Date.now(), skewMs));
      break;
    case 'waiting':
      if (before.phase.kind === 'joining') setText(announce, `You joined the queue. ${positionText(p.position)}.`);
      break;
    default:
      break;
  }
}

// ---- WAMP -------------------------------------------------------------------

interface Schema<T> { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: unknown } } }

function parse<T>(schema: Schema<T>, value: unknown, what: string): T | undefined {
  const r = schema.safeParse(value);
  if (!r.success) { console.warn(`ignored a malformed ${what}`, r.error.issues); return undefined; }
  return r.data;
}

async function credentials(): Promise<Credentials> {
  const name = localStorage.getItem(NAME_KEY);
  if (!name) return { method: 'anonymous' };
  if (!login || login.expiresAt - TICKET_MARGIN_MS < Date.now() + skewMs) await signIn(name);
  return login ? { method: 'ticket', authid: login.authid, ticket: login.ticket } : { method: 'anonymous' };
}

async function signIn(name: string): Promise<void> {
  const answer = await createSession(name);
  login = { authid: answer.authid, ticket: answer.ticket, expiresAt: answer.expiresAt, name: answer.name };
  skewMs = answer.skewMs;
  localStorage.setItem(NAME_KEY, answer.name);
  dispatch({ type: 'identity', authid: answer.authid, name: answer.name });
}

/**
 * Where the page stands on each player topic it has had (one per identity):
 * the catch-up after a reconnect replays what came after it.
 */
const cursors = new Map<string, TopicCursor>();

async function onOpen(session: Session): Promise<void> {
  if (state.identity) {
    const topic = playerTopic(state.identity.authid);
    let cursor = cursors.get(topic);
    // The first session of an identity reads the history only to learn where it stands: the backend
    // re-sends what is current (position, get_ready, control) to every new session.
    if (cursor === undefined) { cursor = new TopicCursor(); cursors.set(topic, cursor); }
    const c = cursor;
    c.sessionStarted(); // before subscribing: no live event of this session may come first
    // Until the history read answers (catchUp), what comes (the persistent subscription's replay, live messages) is held back for it.
    const subscription = await subscribePlayer(session, topic, ([m], _kwargs, details) => {
      if (!c.live(details?.publication, [m])) return;
      const message = parse(PlayerMessage, m, 'player message');
      if (message) dispatch({ type: 'player', message });
    });
    void catchUp(session, subscription, topic, c);
  }
  // The page counts as online from here (our own topic is subscribed); the
  // lobby and the reclaim follow without holding that up.
  void refreshLobby(session).then(() => {
    if (link.session !== session) return; // a newer session does its own
    // Reclaim our place: the backend kept it through the grace period (SQLite keeps it through a restart).
    const queued = holdsPlace(state.phase) ? phaseMachine(state.phase) : localStorage.getItem(QUEUE_KEY) ?? undefined;
    if (queued && state.identity) void resumePlace(session, queued);
  });
}

let toldNotPersistent = false;

/**
 * The player topic, as a persistent subscription: the router replays what it
 * kept while no page of this player was connected right after SUBSCRIBED. A
 * router that refuses it (a realm that keeps none for players) gets a plain
 * subscription, and the page catches up from the history alone.
 */
async function subscribePlayer(session: Session, topic: string, handler: (args: unknown[], kwargs: Record<string, unknown>, details: EventDetails) => void): Promise<Subscription> {
  try {
    return await session.subscribe(topic, handler, { x_persistent: PLAYER_SUBSCRIPTION });
  } catch (e) {
    if (!NOT_PERSISTENT.has(errorUri(e)) || !session.isOpen) throw e;
    if (!toldNotPersistent) { toldNotPersistent = true; console.warn(`no persistent subscription for ${topic} (${errorUri(e)}): what comes while no page is connected is caught up from the history only`); }
    return await session.subscribe(topic, handler);
  }
}

/**
 * After a (re)connect: the messages to this player the page has not taken in,
 * in order and up to the newest, as one change (so a prompt that came and
 * went while away does not ring now): what the persistent subscription kept
 * while no page of the player was connected (replayed by the router before
 * it answers the history read), and, after a reconnect, what the router's
 * event history has after the page's mark (what was sent to a connection
 * that died unread, or while another tab held the subscription). Each
 * once. The backend re-sends only what is current to a new session; an
 * ended turn or a removal it does not.
 */
async function catchUp(session: Session, subscription: Subscription, topic: string, cursor: TopicCursor): Promise<void> {
  const history = await readHistory(session, subscription, topic, PLAYER_HISTORY);
  if (link.session !== session) return; // closed meanwhile: the next session catches up from the same place
  const messages: PlayerMessage[] = [];
  for (const e of history === undefined ? cursor.failed() : cursor.caughtUp(history)) {
    const message = parse(PlayerMessage, e.args[0], 'player message (catch-up)');
    if (message) messages.push(message);
  }
  if (messages.length > 0) dispatch({ type: 'catch_up', messages });
}

/** Each session's subscription to each machine's events (for reading their history). */
const eventSubscriptions = new WeakMap<Session, Map<string, Subscription>>();

/**
 * The recent turns of the machine on screen from the event history: at load,
 * after a reconnect, when another machine is picked. Repeats of what came
 * live are recognised by publication id.
 */
async function fillRecent(session: Session, machine: string): Promise<void> {
  const subscription = eventSubscriptions.get(session)?.get(machine);
  if (subscription === undefined) return; // not subscribed yet: watchMachine fills it once it is
  const history = await readHistory(session, subscription, machineUris(machine).events, MAX_EVENTS);
  if (history === undefined || link.session !== session || state.selected !== machine) return;
  for (const e of [...history].reverse()) {
    const event = parse(EventPayload, e.args[0], 'event (history)');
    if (event && event.machine === machine) dispatch({ type: 'event', event, publication: e.publication });
  }
}

/** While the backend is (re)starting its procedures are not registered yet: try again this often, this many times. */
const RESUME_RETRY_MS = 1000;
const RESUME_TRIES = 20;

/**
 * Reclaims the place after a reload or reconnect with request_slot
 * `{resume: true}`, which never joins: a place that ended while the page was
 * away (removed, the turn over) is answered not_in_queue and said so, not
 * silently replaced by a new place at the end of the queue. The answer also
 * says where we stand (the ready prompt with its real deadline, or our
 * running turn with its end). A join whose answer was lost (still `joining`)
 * is sent as a join.
 */
async function resumePlace(session: Session, machine: string): Promise<void> {
  const p = state.phase;
  if (p.kind === 'joining' && !p.resumed && phaseMachine(p) === machine) { await requestSlot(machine, 'rejoin'); return; }
  for (let i = 0; i < RESUME_TRIES && link.session === session; i++) {
    const outcome = await checkPlace(session, machine);
    if (outcome !== 'retry') return;
    await new Promise((r) => setTimeout(r, RESUME_RETRY_MS));
  }
}

/**
 * Asks the backend exactly whether we still hold our place on `machine`
 * (request_slot `{resume: true}`): the answer is our slot (applied), or
 * not_in_queue (the place is freed, and the page says why). `retry`: the
 * backend is not there yet.
 */
async function checkPlace(session: Session, machine: string): Promise<'done' | 'retry'> {
  const epoch = state.placeEpoch;
  const wasPlaying = localStorage.getItem(TURN_KEY) === machine;
  try {
    const slot = parse(SlotResult, await session.call<unknown>(Procedures.requestSlot, [machine], { resume: true }), 'slot');
    if (slot && link.session === session) dispatch({ type: 'slot', slot });
    return 'done';
  } catch (e) {
    if (link.session !== session) return 'done';
    const uri = errorUri(e);
    if (uri === ClawErrors.notInQueue) { dispatch({ type: 'place_gone', machine, epoch, wasPlaying }); return 'done'; }
    // The backend's procedures are not registered yet (it is starting): keep the place and ask again.
    if (uri === 'wamp.error.no_such_procedure') return 'retry';
    dispatch({ type: 'error', error: explain(e) });
    return 'done';
  }
}

async function refreshLobby(session: Session): Promise<void> {
  try {
    const list = await session.call<unknown>(Procedures.machinesList);
    if (link.session !== session) return; // this session closed meanwhile
    const machines = parse(MachineSummary.array(), list, 'machine list');
    if (!machines) return;
    dispatch({ type: 'lobby', machines });
    const added = machines.filter((m) => !watchedBy(session).has(m.machine));
    for (const m of machines) await watchMachine(session, m.machine);
    // The counts were taken before we subscribed: ask again so "watching" includes this page.
    if (added.length > 0) {
      const again = parse(MachineSummary.array(), await session.call<unknown>(Procedures.machinesList), 'machine list');
      if (again) dispatch({ type: 'lobby', machines: again });
    }
  } catch (e) {
    dispatch({ type: 'error', error: `Could not load the machines (${errorUri(e)}).` });
  }
}

async function watchMachine(session: Session, machine: string): Promise<void> {
  const subscribed = watchedBy(session);
  if (subscribed.has(machine)) return;
  subscribed.add(machine);
  const u = machineUris(machine);
  const retained = { get_retained: true };
  const [, , , events] = await Promise.all([
    session.subscribe(u.status, ([p]) => { const status = parse(StatusPayload, p, 'status'); if (status) dispatch({ type: 'status', machine, status }); }, retained),
    session.subscribe(u.queue, ([p]) => { const snapshot = parse(QueueSnapshot, p, 'queue'); if (snapshot) onSnapshot(session, snapshot); }, retained),
    session.subscribe(u.lines, ([p]) => { const lines = parse(LinesPayload, p, 'lines'); if (lines) dispatch({ type: 'lines', machine, lines }); }, retained),
    session.subscribe(u.events, ([p], _kwargs, details) => {
      const event = parse(EventPayload, p, 'event');
      if (event) dispatch({ type: 'event', event, ...(details?.publication !== undefined ? { publication: details.publication } : {}) });
    }),
  ]).catch((e: unknown) => { subscribed.delete(machine); throw e; });
  let subscriptions = eventSubscriptions.get(session);
  if (subscriptions === undefined) { subscriptions = new Map(); eventSubscriptions.set(session, subscriptions); }
  subscriptions.set(machine, events);
  if (state.selected === machine) void fillRecent(session, machine);
  // The snapshot may predate our subscription if the backend does not retain it.
  session.call<unknown>(Procedures.queueGet, [machine]).then((q) => {
    const snapshot = parse(QueueSnapshot, q, 'queue');
    if (snapshot) onSnapshot(session, snapshot);
  }, () => { /* the retained topic covers it */ });
}

/** Machines whose queue is being re-read because a snapshot did not show our place. */
const checking = new Set<string>();

/**
 * A snapshot of the machine we hold a place on that does not show us (by
 * name: snapshots carry no authids) means a message (removed, the end of our
 * turn) may have been lost. The page asks the backend exactly (request_slot
 * `{resume: true}`) and frees the place only if it says not_in_queue, so
 * neither a stale snapshot nor a namesake can cost or keep a place.
 */
function onSnapshot(session: Session, snapshot: QueueSnapshot): void {
  dispatch({ type: 'queue', snapshot });
  const machine = snapshot.machine;
  if (placeShown(state, snapshot) !== false || checking.has(machine) || link.session !== session) return;
  checking.add(machine);
  void checkPlace(session, machine).finally(() => checking.delete(machine));
}

const ERROR_TEXT: Record<string, string> = {
  'claw.error.queue_full': 'The queue is full right now. Try again in a moment.',
  'claw.error.machine_offline': 'This machine is offline.',
  'claw.error.machine_paused': 'This machine is paused by staff.',
  'claw.error.no_such_machine': 'This machine does not exist any more.',
  'claw.error.rate_limited': 'Slow down a little and try again.',
  'claw.error.not_your_turn': 'It is not your turn any more.',
  'wamp.error.not_authorized': 'You need to pick a name first.',
};
function explain(e: unknown): string {
  const uri = errorUri(e);
  // Kicked with a block: say until when (the error's kwargs).
  if (uri === ClawErrors.blocked) {
    const until = (e as { kwargs?: { until?: unknown } }).kwargs?.until;
    return `An operator removed you from this queue. You can join it again ${typeof until === 'number' ? untilText(until, Date.now(), skewMs) : 'later'}.`;
  }
  return ERROR_TEXT[uri] ?? `Something went wrong (${uri}).`;
}

/** `join`: the player asked; `rejoin`: a join whose answer was lost in a reconnect, sent again. */
async function requestSlot(machine: string, mode: 'join' | 'rejoin' = 'join'): Promise<void> {
  const session = link.session;
  if (!session) { dispatch({ type: 'error', error: 'Not connected yet; your request will be sent when the connection is back.' }); return; }
  if (mode === 'join') dispatch({ type: 'join', machine });
  try {
    const slot = parse(SlotResult, await session.call<unknown>(Procedures.requestSlot, [machine]), 'slot');
    if (slot) dispatch({ type: 'slot', slot });
  } catch (e) {
    dispatch({ type: 'join_failed', machine, error: explain(e) });
  }
}

async function leaveQueue(): Promise<void> {
  const machine = phaseMachine(state.phase);
  const session = link.session;
  if (!machine || !session) return;
  try {
    await session.call(Procedures.leave, [machine]);
    dispatch({ type: 'left' });
  } catch (e) {
    dispatch({ type: 'error', error: explain(e) });
  }
}

async function confirmReady(): Promise<void> {
  if (state.phase.kind !== 'get_ready' || state.phase.confirming) return;
  // Confirmed from the banner while looking at another machine: show the one the turn starts on.
  if (state.selected !== state.phase.machine) dispatch({ type: 'select', machine: state.phase.machine });
  const session = link.session;
  if (!session) { dispatch({ type: 'ready_failed', error: 'Not connected: reconnecting, try again in a second.' }); return; }
  dispatch({ type: 'ready_sent' });
  try {
    await session.call(Procedures.turnReady, [state.phase.machine]);
    dispatch({ type: 'ready_confirmed' });
  } catch (e) {
    dispatch({ type: 'ready_failed', error: explain(e) });
  }
}

// ---- controls ---------------------------------------------------------------

function startControls(topic: string): void {
  stopControls();
  const send = (command: Command) => {
    // No acknowledgement: a command is only useful now, and the next repeat covers a loss.
    try { link.session?.publish(topic, [{ command }]); } catch { /* session closing */ }
  };
  repeater = new HoldRepeater(send, { setInterval: (f, ms) => setInterval(f, ms), clearInterval: (t) => clearInterval(t as ReturnType<typeof setInterval>) });
}

function stopControls(): void {
  repeater?.releaseAll();
  repeater = undefined;
}

function playing(): boolean {
  return state.phase.kind === 'playing' && !state.phase.dropped && repeater !== undefined;
}

function drop(): void {
  if (!playing()) return;
  repeater!.drop();
  dispatch({ type: 'dropped' });
}

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
}

function wireControls(): void {
  document.addEventListener('keydown', (e) => {
    if (state.phase.kind === 'get_ready' && e.key === 'Enter' && !isTyping(e.target) && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      void confirmReady();
      return;
    }
    if (!playing() || isTyping(e.target)) return;
    const c = keyToControl(e);
    if (!c) return;
    e.preventDefault();
    if (e.repeat) return; // we repeat on our own clock, not the keyboard's
    if (c.kind === 'drop') drop();
    else repeater!.press(c.direction, 'key');
  });
  document.addEventListener('keyup', (e) => {
    const c = keyToControl(e);
    if (c?.kind === 'direction') repeater?.release(c.direction, 'key');
  });
  // A player who switches away must not leave the claw running.
  window.addEventListener('blur', () => repeater?.releaseAll());
  document.addEventListener('visibilitychange', () => { if (document.hidden) repeater?.releaseAll(); });

  for (const btn of document.querySelectorAll<HTMLButtonElement>('#pad .dir')) {
    const direction = btn.dataset.dir as Direction;
    const source = `pointer-${direction}`;
    btn.addEventListener('pointerdown', (e) => {
      if (!playing()) return;
      e.preventDefault();
      btn.setPointerCapture(e.pointerId);
      btn.classList.add('held');
      repeater!.press(direction, source);
    });
    const up = () => { btn.classList.remove('held'); repeater?.release(direction, source); };
    btn.addEventListener('pointerup', up);
    btn.addEventListener('pointercancel', up);
    btn.addEventListener('lostpointercapture', up);
    btn.addEventListener('contextmenu', (e) => e.preventDefault()); // long-press menu on phones
    // Keyboard on a focused pad button: Enter holds the direction like a key.
    btn.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter' || !playing()) return;
      e.preventDefault();
      e.stopPropagation();
      if (!e.repeat) repeater!.press(direction, 'enter');
    });
    btn.addEventListener('keyup', (e) => { if (e.key === 'Enter') repeater?.release(direction, 'enter'); });
  }
  byId('drop').addEventListener('click', drop);
}

// ---- rendering ----------------------------------------------------------------

const render = onNextFrame(() => draw());

function draw(): void {
  const now = Date.now();
  const conn = describeConnection(connection, now);
  const connEl = byId('conn');
  setText(connEl, conn.label);
  connEl.className = `conn ${conn.tone}`;
  // Which attempt this is, also while waiting for it (for tests and styling; the label says it only while connecting).
  const attempt = connection.kind === 'connecting' || connection.kind === 'waiting' ? String(connection.attempt) : '';
  if (connEl.dataset.attempt !== attempt) connEl.dataset.attempt = attempt;

  show(byId('name-panel'), !state.identity);
  const who = byId('who');
  show(who, state.identity !== undefined);
  if (state.identity) setText(who, `Playing as ${state.identity.name}`);
  byId<HTMLInputElement>('sound').checked = readyAlert.enabled;

  // Our own turn on the machine on screen: phones put the machine first and size the box to fit beside the pad.
  const p = state.phase;
  document.body.classList.toggle('in-turn', (p.kind === 'playing' || p.kind === 'starting') && p.machine === state.selected);

  drawLobby();
  drawMachine(now);
  drawReadyBanner(now);
  if (scrollTurnIntoView) {
    scrollTurnIntoView = false;
    byId('machine').scrollIntoView({ block: 'start' });
  }
  if (focusAfterDraw) {
    const el = document.getElementById(focusAfterDraw);
    focusAfterDraw = undefined;
    // The scroll above already placed the panel; focusing must not move it again.
    el?.focus({ preventScroll: narrow.matches && el.id === 'turn' });
  }
}

/**
 * The get-ready prompt wherever the player is: when the turn panel's own
 * prompt is not on screen (another machine selected, or scrolled away), a
 * banner fixed to the bottom of the window with the real time left, the
 * ready button and a way back to that machine.
 */
function drawReadyBanner(now: number): void {
  const prompt = readyPrompt(state);
  const banner = byId('ready-banner');
  const visible = prompt !== undefined && (state.selected !== prompt.machine || !inlinePromptVisible);
  show(banner, visible);
  document.body.classList.toggle('with-banner', visible);
  if (!prompt) return;
  setText(byId('banner-machine'), prompt.machine);
  setText(byId('banner-countdown'), clock(secondsLeft(prompt.deadline, now, skewMs)));
  const ready = byId<HTMLButtonElement>('banner-ready');
  ready.disabled = prompt.confirming;
  setText(ready, prompt.confirming ? 'Confirming…' : "I'm ready");
  const go = byId<HTMLButtonElement>('banner-show');
  show(go, state.selected !== prompt.machine);
  setText(go, `Show ${prompt.machine}`);
}

function drawLobby(): void {
  const list = byId('machines');
  show(byId('lobby-empty'), state.order.length === 0);
  syncList(list, state.order, (m) => m, (m) => {
    const btn = h('button', { type: 'button', class: 'machine-button' },
      h('span', { class: 'machine-name' }, m), h('span', { class: 'badge' }), h('span', { class: 'machine-stats' }));
    btn.addEventListener('click', () => dispatch({ type: 'select', machine: m }));
    return h('li', {}, btn);
  }, (li, m) => {
    const v = state.machines[m]!;
    const btn = li.firstElementChild as HTMLButtonElement;
    btn.setAttribute('aria-pressed', String(state.selected === m));
    const badge = btn.children[1] as HTMLElement;
    setText(badge, stateLabel(v.state));
    badge.className = `badge state-${v.state}`;
    const mine = holdsPlace(state.phase) && phaseMachine(state.phase) === m ? ' · your queue' : '';
    setText(btn.children[2] as HTMLElement, `${v.queueLength} waiting · ${v.spectators} watching${mine}`);
  });
}

/** One line on what a pause means right now, or nothing. */
function pauseNote(m: PlayerState['machines'][string]): string {
  if (!m.paused || m.state !== 'paused') return '';
  const turnRuns = m.queue?.current != null || m.status?.state === 'controlled';
  return turnRuns
    ? 'Paused by staff: the turn in progress finishes, then no new turn starts until the machine is resumed. Queued players keep their places.'
    : 'Paused by staff: no turn starts until the machine is resumed. You can still join; queued players keep their places.';
}

function drawMachine(now: number): void {
  const m = state.selected ? state.machines[state.selected] : undefined;
  const panel = byId('machine');
  show(panel, m !== undefined);
  if (!m) { live?.show(undefined, undefined); return; }
  setText(byId('machine-title'), `${m.machine}: ${stateLabel(m.state)}`);
  const note = pauseNote(m);
  setText(byId('machine-note'), note);
  show(byId('machine-note'), note !== '');

  const view = boxView(m.lines, m.prizes ?? []);
  box.update(view);
  setText(byId('box-caption'), view.caption);
  const videoUrl = config.videoUrls[m.machine] ?? m.videoUrl;
  drawVideo(videoUrl);
  // A machine with a configured URL keeps it; every other one tries live video, the drawn box meanwhile.
  live?.show(videoUrl === undefined ? link?.session ?? undefined : undefined, videoUrl === undefined ? m.machine : undefined);
  show(byId('box'), live?.state !== 'playing');

  const phase = phaseFor(state, m.machine);
  for (const k of ['idle', 'joining', 'waiting', 'get_ready', 'starting', 'playing', 'result', 'removed'] as const) {
    show(byId(`phase-${k}`), phase.kind === k || (k === 'idle' && phase.kind === 'elsewhere'));
  }
  const join = byId<HTMLButtonElement>('join');
  const showMine = byId<HTMLButtonElement>('show-mine');
  show(showMine, phase.kind === 'elsewhere');
  if (phase.kind === 'elsewhere') {
    const there = phase.elsewhere.machine;
    setText(byId('idle-text'), phase.elsewhere.kind === 'get_ready'
      ? `You are being asked to get ready on ${there}. Leave that queue to play here.`
      : phase.elsewhere.kind === 'playing' || phase.elsewhere.kind === 'starting'
        ? `You are playing on ${there}.`
        : `You are in the queue of ${there}. Leave it to play here.`);
    setText(showMine, `Show ${there}`);
    join.disabled = true;
  } else {
    setText(byId('idle-text'), state.identity ? 'Join the queue to play this machine.' : 'Pick a name above, then join the queue.');
    join.disabled = !state.identity || connection.kind !== 'online';
  }
  switch (phase.kind) {
    case 'waiting':
      setText(byId('position-text'), positionText(phase.position));
      setText(byId('position'), String(phase.position + 1));
      // The protocol's 0-based position, for tests and styling (the text says "You're next" for 0).
      byId('phase-waiting').dataset.position = String(phase.position);
      setText(byId('eta'), waitText(phase.etaSeconds, m.paused, { etaAt: phase.etaAt, now, skewMs, state: m.state }));
      break;
    case 'get_ready': {
      setText(byId('ready-countdown'), clock(secondsLeft(phase.deadline, now, skewMs)));
      const ready = byId<HTMLButtonElement>('ready');
      ready.disabled = phase.confirming;
      setText(ready, phase.confirming ? 'Confirming…' : "I'm ready");
      break;
    }
    case 'playing': {
      // endsAt is unknown for a moment after a reload, until the snapshot or the re-sent control message says.
      setText(byId('turn-countdown'), phase.dropped ? 'dropped' : phase.endsAt === undefined ? '…' : clock(secondsLeft(phase.endsAt, now, skewMs)));
      for (const b of document.querySelectorAll<HTMLButtonElement>('#pad button')) b.disabled = phase.dropped;
      show(byId('turn-hint'), !phase.dropped);
      show(byId('drop-status'), phase.dropped);
      if (phase.drop) {
        const d = dropText(phase.drop, m.lines?.claw?.holding === true);
        setText(byId('drop-text'), d.text);
        const bar = byId<HTMLProgressElement>('drop-progress');
        bar.max = d.steps;
        bar.value = d.step;
      }
      break;
    }
    case 'result': {
      const r = resultText(phase.result);
      setText(byId('result-title'), r.title);
      setText(byId('result-detail'), r.detail);
      break;
    }
    case 'removed':
      setText(byId('removed-text'), removedText(phase.reason, phase.blockedUntil, now, skewMs));
      break;
    default:
      break;
  }
  setText(byId('turn-error'), state.error ?? '');

  const q = m.queue;
  setText(byId('now-playing'), q?.current
    ? `Now playing: ${q.current.name}${q.current.endsAt ? ` (${clock(secondsLeft(q.current.endsAt, now, skewMs))} left)` : ''}`
    : m.status?.state === 'controlled' && m.status.player ? `Now playing: ${m.status.player}` : 'Nobody is playing.');
  const waiting = q?.waiting ?? [];
  const mine = state.phase.kind === 'waiting' && state.phase.machine === m.machine ? state.phase.position : -1;
  syncList(byId('waiting'), waiting, (w) => `${w.position}`, () => h('li'), (li, w) => {
    setText(li, w.name);
    li.classList.toggle('me', w.position === mine);
  });
  syncList(byId('events'), state.events.filter((e) => e.machine === m.machine), (e) => `${e.at}-${e.text}`, (e) => h('li', {}, e.text), () => undefined);
}

let currentVideo: string | undefined;
function drawVideo(url: string | undefined): void {
  const slot = byId('video');
  if (url === currentVideo) return;
  currentVideo = url;
  slot.replaceChildren();
  const kind = url ? videoKind(url) : undefined;
  show(slot, kind !== undefined);
  if (!url || !kind) return;
  if (kind === 'image') slot.append(h('img', { src: url, alt: 'Live camera of the machine' }));
  else if (kind === 'video') slot.append(h('video', { src: url, autoplay: true, muted: true, playsinline: true, 'aria-label': 'Live camera of the machine' }));
  else slot.append(h('iframe', { src: url, title: 'Live camera of the machine', allow: 'autoplay', referrerpolicy: 'no-referrer' }));
}

// ---- start --------------------------------------------------------------------

function wireForms(): void {
  const form = byId<HTMLFormElement>('name-form');
  const input = byId<HTMLInputElement>('name');
  input.value = localStorage.getItem(NAME_KEY) ?? '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = input.value.trim();
    const err = byId('name-error');
    // The exact reason ("the name is 25 characters long (at most 24)"); an emoji family counts as one character.
    const problem = nameProblem(name);
    if (problem !== undefined) { setText(err, `${problem[0]!.toUpperCase()}${problem.slice(1)}.`); input.focus(); return; }
    setText(err, '');
    const submit = byId<HTMLButtonElement>('name-submit');
    submit.disabled = true;
    signIn(name).then(() => {
      link.restart(); // log in again, now as this player
      byId('join').focus();
    }, (e: unknown) => {
      setText(err, e instanceof Error ? e.message : 'Login failed.');
    }).finally(() => { submit.disabled = false; });
  });
  byId('join').addEventListener('click', () => { if (state.selected) void requestSlot(state.selected); });
  byId('rejoin').addEventListener('click', () => { if (state.selected) void requestSlot(state.selected); });
  byId('again').addEventListener('click', () => { if (state.selected) void requestSlot(state.selected); });
  byId('dismiss').addEventListener('click', () => dispatch({ type: 'dismiss' }));
  byId('leave').addEventListener('click', () => void leaveQueue());
  byId('ready').addEventListener('click', () => void confirmReady());
  byId('banner-ready').addEventListener('click', () => void confirmReady());
  const showPlace = () => { const m = phaseMachine(state.phase); if (m) { dispatch({ type: 'select', machine: m }); focusAfterDraw = state.phase.kind === 'get_ready' ? 'ready' : 'turn'; } };
  byId('banner-show').addEventListener('click', showPlace);
  byId('show-mine').addEventListener('click', showPlace);
  // A change is a user gesture: the browser lets the tone's audio start from here.
  byId<HTMLInputElement>('sound').addEventListener('change', (e) => { readyAlert.setEnabled((e.target as HTMLInputElement).checked); render(); });
  // Whether the turn panel's prompt is on screen decides whether the banner is needed.
  new IntersectionObserver((entries) => {
    for (const e of entries) inlinePromptVisible = e.isIntersecting;
    render();
  }, { threshold: 0.5 }).observe(byId('phase-get_ready'));
}

async function main(): Promise<void> {
  byId('box').append(box.svg);
  readyAlert = new ReadyAlert(localStorage);
  config = await loadClientConfig();
  // A reload resumes where the last page was: its name (cookie → same authid) and its queue.
  const saved = localStorage.getItem(QUEUE_KEY);
  if (saved) dispatch({ type: 'join', machine: saved, resumed: true });
  wireForms();
  wireControls();
  live = new LiveVideo(() => render(), 'Live camera of the machine');
  byId('video').after(live.element);
  link = new WampLink({
    url: wsUrl(config.wsPath),
    realm: config.realm,
    credentials,
    onOpen,
    onState: (s) => { connection = s; if (s.kind !== 'online') stopHeldDirections(); render(); },
    onAuthFailed: () => { login = undefined; return true; }, // fetch a fresh ticket next time
  });
  link.start();
  // Countdowns and "retrying in" tick; the lobby's spectator counts are polled.
  setInterval(render, 250);
  setInterval(() => { if (link.session) void refreshLobby(link.session); }, LOBBY_REFRESH_MS);
  render();
}

/** Connection lost: the node releases lines itself, but the page must not resume steering with stale holds. */
function stopHeldDirections(): void {
  repeater?.releaseAll();
}

void main();
