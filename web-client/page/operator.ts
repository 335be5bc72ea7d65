// The operator dashboard: sign in with WAMP-CRA, watch every machine (state,
// current player, queue, recent turns), pause/resume/skip/kick, and the
// router's live numbers.
import type { Session, Subscription } from 'autobahn';
import {
  AdminTurnRow, CameraStatus, EventPayload, LinesPayload, MachineSummary, Procedures, QueueSnapshot, StatusPayload, VideoProcedures, VideoStats,
  cameraTopic, machineUris,
} from '@clawgate/protocol';
import {
  askedOf, confirmProblem, confirmText, initialDashboard, parseBlockMinutes, ratePerSecond, reduceDashboard, rowOutcome, rowsFromAdmin, skipTarget,
  type DashboardAction, type DashboardState, type PendingAction, type TurnRow,
} from '../src/logic/dashboard-state.js';
import { describeConnection, type ConnectionState } from '../src/logic/connection.js';
import { clock, secondsLeft, stateLabel } from '../src/logic/format.js';
import { routerNumbers, type RouterNumbers } from '../src/logic/metrics.js';
import { loadClientConfig, wsUrl } from './api.js';
import { WampLink, watchedBy } from './wamp-link.js';
import { readHistory } from './history.js';
import { byId, errorUri, h, onNextFrame, setText, show, syncList } from './dom.js';
import { LiveVideo } from './video.js';

const STATS_MS = 2000;
/** Rows in the recent turns table (claw.admin.turns' limit), and the events read per machine to fill it: two per turn. */
const TURN_ROWS = 30;
const HISTORY_EVENTS = TURN_ROWS * 2;
const AUTHID_KEY = 'clawgate.operator';

let state: DashboardState = initialDashboard;
let connection: ConnectionState | undefined;
let link: WampLink | undefined;
let creds: { authid: string; secret: string } | undefined;
let lastCount: { count: number; at: number } | undefined;

// ---- live video (video parts: kept beside the dashboard state, which knows nothing of cameras) ----
/** Each machine's camera report (claw.machine.<id>.camera, retained). */
const cameras = new Map<string, CameraStatus>();
/** The video service's numbers per machine (claw.video.stats, polled with the router's). */
const videoStats = new Map<string, VideoStats>();
/** One live thumbnail per card. */
const thumbnails = new Map<string, LiveVideo>();
/** No video service answered: not asked again before this (a backend restarting registers it again). */
let videoServiceAfter = 0;

async function pollVideo(session: Session): Promise<void> {
  if (Date.now() < videoServiceAfter) return;
  try {
    const rows = parse(VideoStats.array(), await session.call<unknown>(VideoProcedures.stats), 'video stats');
    for (const r of rows ?? []) videoStats.set(r.machine, r);
  } catch (e) {
    // No video service on this realm (or its backend restarting): asked again in 30 s.
    if (errorUri(e) === 'wamp.error.no_such_procedure') videoServiceAfter = Date.now() + 30_000;
  }
}

/** The card's camera line, and whether the camera is down (flagged) while the machine is on. */
function cameraLine(machineState: string, cam: CameraStatus | undefined, stats: VideoStats | undefined): { text: string; down: boolean } {
  if (cam === undefined) return { text: stats ? 'Camera: no report' : 'No camera', down: false };
  if (machineState === 'offline') return { text: 'Camera: machine offline', down: false };
  const parts = [`Camera: ${cam.state}`];
  if (cam.state === 'running' && cam.fps !== undefined) parts.push(`${cam.fps} fps`);
  if (cam.state === 'running' && cam.bitrate !== undefined) parts.push(`${(cam.bitrate / 1e6).toFixed(1)} Mbit/s`);
  if (stats) parts.push(`${stats.viewers} viewer${stats.viewers === 1 ? '' : 's'}`);
  parts.push(`${cam.restarts} restart${cam.restarts === 1 ? '' : 's'}`);
  const down = cam.state === 'failed' || cam.state === 'restarting' || cam.state === 'waiting';
  return { text: `${down ? '⚠ Camera down — ' : ''}${parts.join(' · ')}${down && cam.lastError ? ` (${cam.lastError})` : ''}`, down };
}

interface Schema<T> { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: unknown } } }
function parse<T>(schema: Schema<T>, value: unknown, what: string): T | undefined {
  const r = schema.safeParse(value);
  if (!r.success) { console.warn(`ignored a malformed ${what}`, r.error.issues); return undefined; }
  return r.data;
}

function dispatch(a: DashboardAction): void {
  state = reduceDashboard(state, a);
  render();
}

// ---- WAMP ---------------------------------------------------------------------

async function onOpen(session: Session): Promise<void> {
  show(byId('login'), false);
  show(byId('dash'), true);
  await refreshMachines(session);
  await fetchTurns(session);
}

/** Recent turns, no-shows and kicks (claw.admin.turns); rows of an unknown shape are skipped. */
async function fetchTurns(session: Session): Promise<void> {
  try {
    const value = await session.call<unknown>(Procedures.adminTurns, [], { limit: TURN_ROWS });
    if (link?.session !== session || !Array.isArray(value)) return;
    const rows: AdminTurnRow[] = [];
    for (const r of value) { const p = AdminTurnRow.safeParse(r); if (p.success) rows.push(p.data); }
    dispatch({ type: 'turns', turns: rowsFromAdmin(rows) });
  } catch { /* optional: live events fill the table */ }
}

/**
 * No event announces a no-show or a kick; every one changes a queue, whose
 * snapshot comes next. So after snapshots the table is read again, at most
 * once a second.
 */
let turnsTimer: ReturnType<typeof setTimeout> | undefined;
function refreshTurnsSoon(session: Session): void {
  if (turnsTimer !== undefined) return;
  turnsTimer = setTimeout(() => { turnsTimer = undefined; if (link?.session === session) void fetchTurns(session); }, 1000);
}

async function refreshMachines(session: Session): Promise<void> {
  try {
    const machines = parse(MachineSummary.array(), await session.call<unknown>(Procedures.machinesList), 'machine list');
    if (!machines) return;
    dispatch({ type: 'machines', machines });
    for (const m of machines) await watch(session, m.machine);
  } catch (e) {
    dispatch({ type: 'notice', text: `Could not list machines (${errorUri(e)})`, tone: 'bad' });
  }
}

async function watch(session: Session, machine: string): Promise<void> {
  const subscribed = watchedBy(session);
  if (subscribed.has(machine)) return;
  subscribed.add(machine);
  const u = machineUris(machine);
  const retained = { get_retained: true };
  const [, , , events] = await Promise.all([
    session.subscribe(u.status, ([p]) => { const status = parse(StatusPayload, p, 'status'); if (status) dispatch({ type: 'status', machine, status }); }, retained),
    // The published snapshot has names only; operators get authids (for Kick) from claw.queue.get.
    session.subscribe(u.queue, ([p]) => {
      const snapshot = parse(QueueSnapshot, p, 'queue');
      if (snapshot) dispatch({ type: 'queue', snapshot });
      fetchQueue(session, machine);
      refreshTurnsSoon(session);
    }, retained),
    session.subscribe(u.lines, ([p]) => { const lines = parse(LinesPayload, p, 'lines'); if (lines) dispatch({ type: 'lines', machine, lines }); }, retained),
    session.subscribe(u.events, ([p]) => { const event = parse(EventPayload, p, 'event'); if (event) dispatch({ type: 'event', event }); }),
  ]).catch((e: unknown) => { subscribed.delete(machine); throw e; });
  // The camera's health (a router without the permission refuses: the card says "No camera").
  session.subscribe(cameraTopic(machine), ([p]) => { const c = parse(CameraStatus, p, 'camera'); if (c) { cameras.set(machine, c); render(); } }, retained)
    .catch(() => undefined);
  fetchQueue(session, machine);
  void fillTurns(session, machine, events);
}

/**
 * The machine's recent turns from the event history (at sign-in and after a
 * reconnect: what happened while the dashboard was away), oldest first. The
 * table takes each event once (by turn id) and in its place by time; the
 * backend's claw.admin.turns, when it answers, is the truth over them.
 */
async function fillTurns(session: Session, machine: string, subscription: Subscription): Promise<void> {
  const history = await readHistory(session, subscription, machineUris(machine).events, HISTORY_EVENTS);
  if (history === undefined || link?.session !== session) return;
  for (const e of [...history].reverse()) {
    const event = parse(EventPayload, e.args[0], 'event (history)');
    if (event && event.machine === machine) dispatch({ type: 'event', event });
  }
}

/** The queue with authids (claw.queue.get discloses them to operators). Answers come in call order. */
function fetchQueue(session: Session, machine: string): void {
  session.call<unknown>(Procedures.queueGet, [machine]).then((q) => {
    const snapshot = parse(QueueSnapshot, q, 'queue');
    if (snapshot) dispatch({ type: 'queue', snapshot });
  }, () => undefined);
}

/**
 * Router numbers: the router's Prometheus endpoint (`GET /metrics` on the
 * same origin) when it answers, for sessions and messages/s; otherwise
 * sessions from the meta API (`wamp.session.count`) and messages/s shown as
 * unavailable, with the reason. Nothing is estimated.
 */
async function pollStats(): Promise<void> {
  const session = link?.session;
  if (!session) return;
  const at = Date.now();
  let numbers: RouterNumbers = { sessions: undefined, messages: undefined };
  let why: string;
  try {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (res.ok) {
      numbers = routerNumbers(await res.text());
      why = numbers.messages === undefined ? '/metrics has no message counters' : '';
    } else {
      why = `router /metrics: HTTP ${res.status}`;
    }
  } catch (e) {
    why = `router /metrics unreachable (${(e as Error).message})`;
  }
  let sessions = numbers.sessions;
  let source = sessions !== undefined ? 'sessions from /metrics' : 'sessions from wamp.session.count';
  if (sessions === undefined) {
    try {
      sessions = await session.call<number>('wamp.session.count');
    } catch (e) {
      source = `sessions unavailable (${errorUri(e)})`;
    }
  }
  let messagesPerSecond: number | undefined;
  if (numbers.messages !== undefined) {
    messagesPerSecond = ratePerSecond(lastCount, { count: numbers.messages, at });
    lastCount = { count: numbers.messages, at };
    source += ' · messages/s from /metrics';
  } else {
    lastCount = undefined;
    source += ` · messages/s unavailable: ${why}`;
  }
  dispatch({ type: 'stats', stats: { sessions, messagesPerSecond, source, at } });
}

async function admin(procedure: string, args: unknown[], done: string, kwargs: Record<string, unknown> = {}): Promise<unknown> {
  const session = link?.session;
  if (!session) { dispatch({ type: 'notice', text: 'Not connected.', tone: 'bad' }); return undefined; }
  try {
    const answer = await session.call<unknown>(procedure, args, kwargs);
    dispatch({ type: 'notice', text: done, tone: 'ok' });
    return answer;
  } catch (e) {
    dispatch({ type: 'notice', text: `${done.split(':')[0]} failed: ${errorUri(e)}`, tone: 'bad' });
    return undefined;
  }
}

/**
 * Pause and resume answer `{machine, paused}`. The queue snapshot's `state`
 * does not show a pause during a turn (backend today), so the dashboard keeps
 * what its own call was told until a snapshot says otherwise.
 */
async function setPaused(machine: string, paused: boolean): Promise<void> {
  const answer = await admin(paused ? Procedures.adminPause : Procedures.adminResume, [machine], `${machine}: ${paused ? 'paused' : 'resumed'}`);
  const said = (answer as { paused?: unknown } | undefined)?.paused;
  if (typeof said === 'boolean') dispatch({ type: 'paused', machine, paused: said });
}

// ---- confirmation of Skip and Kick ------------------------------------------------

/** The button that opened the confirmation and its card, to give focus back to (a kicked player's row is gone by then). */
let confirmOpener: { button: HTMLElement; card: HTMLElement | null } | undefined;

function ask(pending: PendingAction, opener: HTMLElement): void {
  dispatch({ type: 'ask', pending });
  const text = confirmText(pending);
  setText(byId('confirm-title'), text.title);
  setText(byId('confirm-body'), text.body);
  setText(byId('confirm-ok'), text.confirm);
  setText(byId('confirm-problem'), '');
  // A kick may block rejoining for a while (0: none, the default).
  show(byId('confirm-block-row'), pending.action === 'kick');
  byId<HTMLInputElement>('confirm-block').value = '0';
  confirmOpener = { button: opener, card: opener.closest('article') };
  const dialog = byId<HTMLDialogElement>('confirm');
  if (!dialog.open) dialog.showModal();
  // The safe choice has focus: Enter right after the click cancels, it never kicks.
  byId('confirm-cancel').focus();
}

function confirmed(): void {
  const pending = state.confirm;
  // A bad block is said in the dialog, which stays open.
  const block = parseBlockMinutes(byId<HTMLInputElement>('confirm-block').value);
  if (pending?.action === 'kick' && !block.ok) { setText(byId('confirm-problem'), block.problem); byId('confirm-block').focus(); return; }
  // A kicked player's row (and its button) is about to go: focus returns to the card.
  if (pending?.action === 'kick' && confirmOpener?.card) confirmOpener = { button: confirmOpener.card, card: confirmOpener.card };
  byId<HTMLDialogElement>('confirm').close();
  if (!pending) return;
  // The queue may have moved while the dialog was open: never hit someone the operator did not mean.
  const problem = confirmProblem(state, pending);
  if (problem) { dispatch({ type: 'notice', text: problem, tone: 'bad' }); return; }
  if (pending.action === 'skip') { void admin(Procedures.adminSkip, [pending.machine], `${pending.machine}: skipped ${pending.player}`); return; }
  const minutes = block.ok ? block.minutes : undefined;
  void admin(Procedures.adminKick, [pending.machine, pending.authid],
    `${pending.machine}: removed ${pending.name} from the queue${minutes !== undefined ? ` (blocked for ${minutes} min)` : ''}`,
    minutes !== undefined ? { blockMinutes: minutes } : {});
}

// ---- rendering ----------------------------------------------------------------

const render = onNextFrame(() => draw());

function draw(): void {
  const now = Date.now();
  const connEl = byId('conn');
  if (connection) {
    const c = describeConnection(connection, now);
    setText(connEl, creds ? `${c.label} as ${creds.authid}` : c.label);
    connEl.className = `conn ${c.tone}`;
  }
  const st = state.stats;
  setText(byId('stat-sessions'), st?.sessions !== undefined ? String(st.sessions) : '–');
  setText(byId('stat-rate'), st?.messagesPerSecond !== undefined ? st.messagesPerSecond.toFixed(1) : st?.source.includes('from /metrics') && st.source.includes('messages/s from') ? '…' : 'n/a');
  setText(byId('stat-source'), st ? `(${st.source})` : '');
  const notice = byId('notice');
  setText(notice, state.notice?.text ?? '');
  notice.className = `notice ${state.notice?.tone ?? ''}`;

  syncList(byId('cards'), state.order, (m) => m, createCard, (el, m) => updateCard(el, m, now));
  syncList(byId('turns'), state.turns, turnKey, () => h('tr', {}, h('td'), h('td'), h('td'), h('td')), (tr, t) => {
    const cells = tr.children as HTMLCollectionOf<HTMLElement>;
    const time = t.startedAt ?? t.endedAt;
    setText(cells[0]!, time ? new Date(time).toLocaleTimeString() : '');
    setText(cells[1]!, t.machine);
    setText(cells[2]!, t.player);
    setText(cells[3]!, rowOutcome(t, now, state.machines[t.machine]?.status));
    tr.dataset.kind = t.kind ?? 'turn';
  });
}

/** A table row's key: the backend's id when known (a live row and the fetched one are the same row), else what the event said. */
function turnKey(t: TurnRow): string {
  if (t.turnId !== undefined) return `${t.kind ?? 'turn'}|${t.machine}|${t.turnId}`;
  return `${t.kind ?? 'turn'}|${t.machine}|${t.player}|${t.startedAt ?? t.endedAt}`;
}

function createCard(machine: string): HTMLElement {
  const button = (label: string, action: string) => {
    const b = h('button', { type: 'button', class: 'secondary', 'data-action': action }, label);
    b.setAttribute('aria-label', `${label} ${machine}`);
    return b;
  };
  const card = h('article', { class: 'panel card', 'aria-label': `Machine ${machine}`, tabindex: -1 },
    h('h3', {}, h('span', {}, machine), h('span', { class: 'badge' })),
    h('p', { class: 'current' }),
    h('p', { class: 'asked' }),
    h('p', { class: 'camera' }),
    h('p', { class: 'muted queue-title' }),
    h('ol', { class: 'queue-list' }),
    h('div', { class: 'actions' }, button('Pause', 'pause'), button('Resume', 'resume'), button('Skip current turn', 'skip')),
  );
  card.addEventListener('click', (e) => {
    const target = (e.target as HTMLElement).closest('button');
    if (!target) return;
    const action = target.dataset.action;
    if (action === 'pause') void setPaused(machine, true);
    if (action === 'resume') void setPaused(machine, false);
    if (action === 'skip') {
      const player = skipTarget(state.machines[machine]!);
      if (player === undefined) dispatch({ type: 'notice', text: `${machine}: nobody to skip.`, tone: 'bad' });
      else ask({ action: 'skip', machine, player }, target);
    }
    if (action === 'kick' && target.dataset.authid) ask({ action: 'kick', machine, authid: target.dataset.authid, name: target.dataset.name ?? 'player' }, target);
  });
  return card;
}

function updateCard(card: HTMLElement, machine: string, now: number): void {
  const m = state.machines[machine]!;
  const badge = card.querySelector<HTMLElement>('.badge')!;
  setText(badge, stateLabel(m.state));
  badge.className = `badge state-${m.state}`;
  const cur = m.queue?.current;
  setText(card.querySelector<HTMLElement>('.current')!, cur
    ? `Playing: ${cur.name}${cur.endsAt ? ` (${clock(secondsLeft(cur.endsAt, now))} left)` : ''}`
    : m.status?.player ? `Playing: ${m.status.player}` : 'Nobody playing');
  const asked = askedOf(m);
  const askedEl = card.querySelector<HTMLElement>('.asked')!;
  show(askedEl, asked !== undefined);
  if (asked) setText(askedEl, `Asking ${asked.name} to get ready${asked.deadline !== undefined ? ` (${clock(secondsLeft(asked.deadline, now))} left)` : ''}`);
  const waiting = m.queue?.waiting ?? [];
  setText(card.querySelector<HTMLElement>('.queue-title')!, `${waiting.length} waiting · ${m.spectators} watching`);
  const authidOf = (w: unknown) => { const a = (w as { authid?: unknown }).authid; return typeof a === 'string' ? a : undefined; };
  // Keyed with the authid, so a row drawn from a names-only snapshot is replaced once the authid is known.
  syncList(card.querySelector<HTMLElement>('.queue-list')!, waiting, (w) => `${w.position}|${w.name}|${authidOf(w) ?? ''}`, (w) => {
    const authid = authidOf(w);
    const kick = authid !== undefined
      ? h('button', { type: 'button', class: 'secondary', 'data-action': 'kick', 'data-authid': authid, 'data-name': w.name, 'aria-label': `Kick ${w.name}` }, 'Kick')
      : undefined;
    return h('li', {}, h('span', {}, w.name), kick);
  }, () => undefined);
  // Paused also during a turn (the badge then says Paused while the current line still shows who plays).
  card.querySelector<HTMLButtonElement>('[data-action=pause]')!.disabled = m.paused;
  card.querySelector<HTMLButtonElement>('[data-action=resume]')!.disabled = !m.paused;
  card.querySelector<HTMLButtonElement>('[data-action=skip]')!.disabled = skipTarget(m) === undefined;

  // Live thumbnail and camera health.
  let thumb = thumbnails.get(machine);
  if (thumb === undefined) {
    thumb = new LiveVideo(() => render(), `Live camera of ${machine}`);
    thumb.element.classList.add('thumb');
    thumbnails.set(machine, thumb);
    card.querySelector('h3')!.after(thumb.element);
  }
  thumb.show(link?.session, machine);
  const cam = cameraLine(m.state, cameras.get(machine), videoStats.get(machine));
  const camEl = card.querySelector<HTMLElement>('.camera')!;
  setText(camEl, cam.text);
  camEl.classList.toggle('bad', cam.down);
  card.classList.toggle('camera-down', cam.down);
}

// ---- start --------------------------------------------------------------------

async function main(): Promise<void> {
  const config = await loadClientConfig();
  const form = byId<HTMLFormElement>('login-form');
  const authidInput = byId<HTMLInputElement>('authid');
  authidInput.value = localStorage.getItem(AUTHID_KEY) ?? '';
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    creds = { authid: authidInput.value.trim(), secret: byId<HTMLInputElement>('secret').value };
    localStorage.setItem(AUTHID_KEY, creds.authid);
    setText(byId('login-error'), '');
    link?.stop();
    link = new WampLink({
      url: wsUrl(config.wsPath),
      realm: config.realm,
      credentials: async () => ({ method: 'wampcra', authid: creds!.authid, secret: creds!.secret }),
      onOpen,
      onState: (s) => { connection = s; render(); },
      onAuthFailed: (_reason, message) => {
        setText(byId('login-error'), `Sign-in refused${message ? `: ${message}` : ''}.`);
        show(byId('login'), true);
        show(byId('dash'), false);
        return false;
      },
    });
    link.start();
  });
  byId('logout').addEventListener('click', () => {
    link?.stop();
    link = undefined;
    creds = undefined;
    connection = undefined;
    setText(byId('conn'), 'Not signed in');
    byId('conn').className = 'conn warn';
    show(byId('dash'), false);
    show(byId('login'), true);
    byId<HTMLInputElement>('secret').value = '';
  });
  const dialog = byId<HTMLDialogElement>('confirm');
  byId('confirm-ok').addEventListener('click', confirmed);
  byId('confirm-block').addEventListener('input', () => setText(byId('confirm-problem'), ''));
  byId('confirm-cancel').addEventListener('click', () => dialog.close());
  // Esc closes a modal dialog by itself; every way of closing ends the pending action and gives focus back.
  dialog.addEventListener('close', () => {
    dispatch({ type: 'settle' });
    const back = confirmOpener?.button.isConnected ? confirmOpener.button : confirmOpener?.card;
    confirmOpener = undefined;
    back?.focus();
  });
  setInterval(() => void pollStats(), STATS_MS);
  setInterval(() => { if (link?.session) void pollVideo(link.session).then(render); }, STATS_MS);
  setInterval(() => { if (link?.session) void refreshMachines(link.session); }, 10_000);
  setInterval(render, 500);
}

void main();
