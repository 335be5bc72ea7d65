// Tiny DOM helpers: the pages update a fixed skeleton in place (no virtual
// DOM), so focus and scroll stay where the user left them.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

type Attrs = Record<string, string | number | boolean | undefined>;

/** Creates an element; `false`/`undefined` attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined) el.append(c);
  return el;
}

/** Sets text only when it changed (screen readers re-announce live regions on every write). */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function show(el: HTMLElement, visible: boolean): void {
  if (el.hidden === visible) el.hidden = !visible;
}

/** Keeps `parent`'s children keyed by `key`: reuses rows, adds new ones, drops gone ones, keeps order. */
export function syncList<T>(parent: HTMLElement, items: readonly T[], key: (t: T) => string, create: (t: T) => HTMLElement, update: (el: HTMLElement, t: T) => void): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of [...parent.children] as HTMLElement[]) existing.set(child.dataset.key ?? '', child);
  let prev: Element | null = null;
  for (const item of items) {
    const k = key(item);
    let el = existing.get(k);
    if (el) existing.delete(k);
    else { el = create(item); el.dataset.key = k; }
    update(el, item);
    const want: Element | null = prev ? prev.nextElementSibling : parent.firstElementChild;
    if (want !== el) parent.insertBefore(el, want);
    prev = el;
  }
  for (const el of existing.values()) el.remove();
}

/** WAMP error URI of a rejected call (autobahn rejects with autobahn.Error). */
export function errorUri(e: unknown): string {
  if (e && typeof e === 'object' && 'error' in e && typeof (e as { error: unknown }).error === 'string') return (e as { error: string }).error;
  return e instanceof Error ? e.message : String(e);
}

/** `schedule()` runs `fn` once in the next animation frame, however often it is called before. */
export function onNextFrame(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}
