import { cborSerializer, msgpackSerializer, jsonSerializer } from './src/serializers/index.js';
import { decodeMessage } from './src/messages/decode.js';
const lim = { maxElements: 1e9, maxDepth: 64 };
for (const n of [16384, 65536]) {
  const msg = [16, 1, {}, 't', Array.from({ length: n }, () => ({}))];
  const msgInts = [16, 1, {}, 't', new Array(n).fill(1)];
  for (const [name, m] of [['empty maps', msg], ['ints', msgInts]] as const) {
    const row = [];
    for (const s of [jsonSerializer, msgpackSerializer, cborSerializer]) {
      const enc = s.encode(m as unknown[]);
      const times = [];
      for (let i = 0; i < 15; i++) { const t0 = performance.now(); decodeMessage(s.decode(enc, lim)); times.push(performance.now() - t0); }
      times.sort((a, b) => a - b);
      row.push(`${s.id} min ${times[0]!.toFixed(2)} med ${times[7]!.toFixed(2)}`);
    }
    console.log(n, name, row.join(' | '));
  }
}
