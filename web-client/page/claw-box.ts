// Draws a BoxView (see src/logic/claw-view.ts) as SVG: the cabinet from
// above, the chute in the front-left corner, the prizes lying in the box
// (simulated machines), the claw (bigger when high, over the prizes),
// direction lamps at the edges, and lamps for drop, coin and prize.
import { BOX, type BoxView } from '../src/logic/claw-view.js';
import type { OutputName } from '@clawgate/protocol';

const NS = 'http://www.w3.org/2000/svg';

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: SVGElement): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  parent?.append(el);
  return el;
}

export class ClawBox {
  readonly svg: SVGSVGElement;
  private readonly claw: SVGGElement;
  private readonly clawBody: SVGCircleElement;
  private readonly cable: SVGCircleElement;
  private readonly lamps: Record<OutputName | 'prize', SVGElement>;
  private readonly noClaw: SVGTextElement;
  private readonly prizes: SVGGElement;

  constructor(label: string) {
    this.svg = s('svg', { viewBox: `0 0 ${BOX} ${BOX + 12}`, class: 'claw-box', role: 'img', 'aria-label': label });
    s('rect', { x: 1, y: 1, width: BOX - 2, height: BOX - 2, rx: 3, class: 'box-floor' }, this.svg);
    // The chute: where the claw returns and drops its prize (the simulator's home, x=0 y=0).
    s('rect', { x: 2, y: BOX - 14, width: 12, height: 12, rx: 1.5, class: 'box-chute' }, this.svg);
    const edge = (x: number, y: number, w: number, hh: number) => s('rect', { x, y, width: w, height: hh, rx: 1, class: 'lamp' }, this.svg);
    this.lamps = {
      up: edge(30, 1.5, 40, 2.5),
      down: edge(30, BOX - 4, 40, 2.5),
      left: edge(1.5, 30, 2.5, 40),
      right: edge(BOX - 4, 30, 2.5, 40),
      coin: s('circle', { cx: 12, cy: BOX + 6, r: 3.2, class: 'lamp' }, this.svg),
      drop: s('circle', { cx: 44, cy: BOX + 6, r: 3.2, class: 'lamp' }, this.svg),
      prize: s('circle', { cx: 76, cy: BOX + 6, r: 3.2, class: 'lamp lamp-prize' }, this.svg),
    };
    // Each label to the right of its lamp.
    for (const [text, x] of [['coin', 17], ['drop', 49], ['prize', 81]] as const) {
      const t = s('text', { x, y: BOX + 7.6, class: 'lamp-label' }, this.svg);
      t.textContent = text;
    }
    // Under the claw: a prize it hovers over is hidden by it only where they overlap.
    this.prizes = s('g', { class: 'prizes', 'aria-hidden': 'true' }, this.svg);
    this.claw = s('g', { class: 'claw' }, this.svg);
    this.cable = s('circle', { r: 1.2, class: 'claw-cable' }, this.claw);
    this.clawBody = s('circle', { r: 5, class: 'claw-body' }, this.claw);
    this.noClaw = s('text', { x: BOX / 2, y: BOX / 2, 'text-anchor': 'middle', class: 'box-empty' }, this.svg);
    this.noClaw.textContent = 'waiting for the machine…';
  }

  update(v: BoxView): void {
    // One circle per prize, reused in order (they are few; a catch or a new prize changes the count).
    const have = this.prizes.children;
    while (have.length > v.prizes.length) have[have.length - 1]!.remove();
    while (have.length < v.prizes.length) s('circle', { class: 'prize' }, this.prizes);
    v.prizes.forEach((p, i) => {
      const c = have[i]!;
      const cx = p.cx.toFixed(2);
      const cy = p.cy.toFixed(2);
      if (c.getAttribute('cx') !== cx) c.setAttribute('cx', cx);
      if (c.getAttribute('cy') !== cy) c.setAttribute('cy', cy);
      if (c.getAttribute('r') !== String(p.r)) c.setAttribute('r', String(p.r));
    });
    for (const [name, el] of Object.entries(this.lamps)) {
      const on = name === 'prize' ? v.prize : v.outputs[name as OutputName];
      el.classList.toggle('on', on);
    }
    if (v.claw) {
      this.claw.style.display = '';
      this.noClaw.style.display = 'none';
      this.claw.setAttribute('transform', `translate(${v.claw.cx.toFixed(2)} ${v.claw.cy.toFixed(2)})`);
      this.clawBody.setAttribute('r', v.claw.r.toFixed(2));
      this.clawBody.classList.toggle('holding', v.claw.holding);
      this.cable.style.opacity = v.claw.lowered > 0.05 ? '1' : '0';
    } else {
      this.claw.style.display = 'none';
      this.noClaw.style.display = '';
      this.noClaw.textContent = v.caption === 'No picture from this machine yet.' ? 'waiting for the machine…' : 'no position data (real cabinet)';
    }
  }
}
