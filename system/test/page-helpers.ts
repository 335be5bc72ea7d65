// Fixtures for the page tests of issue 14 (alongside helpers.ts, which they
// build on): the operator's sign-in, where elements are on screen, colour
// contrast from computed styles, and recorders for the browser APIs the
// get-ready alert uses (WebAudio oscillators, navigator.vibrate), installed
// before the page's own script runs.
import type { Locator, Page } from 'playwright-core';
import { visible } from './helpers.js';

/**
 * helpers.ts's signIn for a system with several machines (no machine is
 * shown until one is picked): picks the name, then `machine` in the lobby,
 * and waits until Join is enabled.
 */
export async function signInTo(page: Page, url: string, name: string, machine: string): Promise<void> {
  await page.goto(url);
  await page.fill('#name', name);
  await page.click('#name-submit');
  await page.waitForSelector('#who:not([hidden])');
  await page.locator('#conn.ok').waitFor();
  await page.locator('#machines .machine-button', { hasText: machine }).click();
  await page.locator('#machine-title', { hasText: machine }).waitFor();
  await page.locator('#join:enabled').waitFor();
}

/** Signs in on the dashboard with the launcher's development operator and waits for the cards. */
export async function signInOperator(page: Page, url: string, secret: string): Promise<void> {
  await page.goto(`${url}operator`);
  await page.fill('#authid', 'operator');
  await page.fill('#secret', secret);
  await page.click('#login-submit');
  await visible(page, '#dash');
  await page.locator('#conn', { hasText: 'Connected as operator' }).waitFor();
}

export interface Rect { x: number; y: number; width: number; height: number }

export async function rect(l: Locator): Promise<Rect> {
  const b = await l.boundingBox();
  if (!b) throw new Error('element not rendered');
  return b;
}

/** `inner` lies entirely within `outer` (half a pixel of rounding allowed). */
export function inside(inner: Rect, outer: Rect): boolean {
  const e = 0.5;
  return inner.x >= outer.x - e && inner.y >= outer.y - e
    && inner.x + inner.width <= outer.x + outer.width + e && inner.y + inner.height <= outer.y + outer.height + e;
}

/** The element is entirely within the viewport (scrolled as the page left it). */
export async function inViewport(page: Page, l: Locator): Promise<boolean> {
  const vp = page.viewportSize()!;
  return inside(await rect(l), { x: 0, y: 0, width: vp.width, height: vp.height });
}

/** WCAG 2 contrast ratio between an element's computed text colour and background colour (both opaque rgb()). */
export async function contrast(l: Locator): Promise<{ ratio: number; color: string; background: string }> {
  // A string, evaluated in the page: the test project has no DOM types.
  const { color, background } = await l.evaluate(new Function('el', `
    const cs = getComputedStyle(el);
    return { color: cs.color, background: cs.backgroundColor };
  `) as (el: unknown) => { color: string; background: string });
  const rgb = (c: string) => {
    const m = /rgba?\((\d+(?:\.\d+)?),\s*(\d+(?:\.\d+)?),\s*(\d+(?:\.\d+)?)(?:,\s*([\d.]+))?\)/.exec(c);
    if (!m) throw new Error(`unexpected colour ${c}`);
    if (m[4] !== undefined && Number(m[4]) < 1) throw new Error(`translucent colour ${c}: contrast depends on what is below`);
    return [m[1], m[2], m[3]].map(Number);
  };
  const lum = (c: string) => {
    const [r, g, b] = rgb(c).map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [a, b] = [lum(color), lum(background)].sort((x, y) => y - x);
  return { ratio: (a! + 0.05) / (b! + 0.05), color, background };
}

/**
 * Records the get-ready alert's outputs: the frequency of every oscillator
 * started (a tone) and every navigator.vibrate call, in `window.__alerts`,
 * installed before the page's own script. The real APIs still run.
 */
export async function recordAlerts(page: Page): Promise<void> {
  await page.addInitScript({
    content: `
      window.__alerts = { tones: [], vibrations: [] };
      const start = OscillatorNode.prototype.start;
      OscillatorNode.prototype.start = function (...args) {
        window.__alerts.tones.push(this.frequency.value);
        return start.apply(this, args);
      };
      const vibrate = navigator.vibrate ? navigator.vibrate.bind(navigator) : undefined;
      Object.defineProperty(navigator, 'vibrate', {
        configurable: true,
        value: (pattern) => { window.__alerts.vibrations.push(pattern); return vibrate ? vibrate(pattern) : true; },
      });
    `,
  });
}

export async function alerts(page: Page): Promise<{ tones: number[]; vibrations: unknown[] }> {
  return page.evaluate('window.__alerts');
}
