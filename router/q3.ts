import { cborSerializer, msgpackSerializer, jsonSerializer } from './src/serializers/index.js';
import { decodeMessage } from './src/messages/decode.js';
const lim = { maxElements: 32768, maxDepth: 64 };
const size = 1024 * 1024 - 64;
const shapes: Record<string, unknown[]> = {
  'one string': [16, 1, {}, 't', ['x'.repeat(size)]],
  'binary': [16, 1, {}, 't', [Buffer.alloc(Math.floor(size * 0.74), 7)]],
  'unicode string': [16, 1, {}, 't', ['é'.repeat(size / 2)]],
  '32K short strings': [16, 1, {}, 't', Array.from({ length: 32760 }, (_, i) => 'x'.repeat(24) + i)],
  '32K empty maps': [16, 1, {}, 't', Array.from({ length: 32760 }, () => ({}))],
  '16K 1-key maps': [16, 1, {}, 't', Array.from({ length: 16370 }, (_, i) => ({ ['k' + i]: 1 }))],
};
for (const [name, m] of Object.entries(shapes)) {
  const row = [];
  for (const s of [jsonSerializer, msgpackSerializer, cborSerializer]) {
    const enc = s.encode(m);
    const len = typeof enc === 'string' ? Buffer.byteLength(enc) : enc.length;
    const times = [];
    for (let i = 0; i < 11; i++) { const t0 = performance.now(); try { decodeMessage(s.decode(enc, lim)); } catch (e) { console.log((e as Error).message); } times.push(performance.now() - t0); }
    times.sort((a, b) => a - b);
    row.push(`${s.id} ${(len / 1024).toFixed(0)}K min ${times[0]!.toFixed(2)} med ${times[5]!.toFixed(2)}`);
  }
  console.log(name.padEnd(18), row.join(' | '));
}
