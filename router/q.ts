import fc from 'fast-check';
import { cborSerializer, msgpackSerializer, jsonSerializer } from './src/serializers/index.js';
import { Encoder as CE } from 'cbor-x';
function tag(n: number): number[] { return n < 24 ? [0xc0 | n] : [0xd8, n]; }
function uint(n: number): number[] { return n < 24 ? [n] : n < 256 ? [0x18, n] : [0x19, n >> 8, n & 255]; }
function dag(k: number, cyclic: boolean): number[] {
  let bytes: number[] = [...tag(28), 0xa0];
  for (let i = 1; i <= k; i++) bytes = [...tag(28), 0x82, ...bytes, ...tag(29), ...uint(cyclic ? k - i : k - i + 1)];
  return bytes;
}
const t = (name: string, f: () => unknown) => { const t0 = performance.now(); let r = 'ok'; try { f(); } catch (e) { r = (e as Error).message; } console.log(name, (performance.now() - t0).toFixed(2), 'ms', r); };
t('cbor dag 24', () => cborSerializer.decode(Buffer.from([0x85, 0x10, 0x01, 0xa0, 0x61, 0x74, 0x81, ...dag(24, false)])));
t('cbor cyclic 8', () => cborSerializer.decode(Buffer.from([0x85, 0x10, 0x01, 0xa0, 0x61, 0x74, 0x81, ...dag(8, true)])));
{ const b = Buffer.alloc(40); for (let i = 0; i < 8; i++) { b[5*i] = 0xdd; b.writeUInt32BE(0x1000000, 5*i+1); } t('msgpack 8 nested array32', () => msgpackSerializer.decode(b)); }
{ const n = 16384; const b = Buffer.alloc(3 + n, 0x80); b[0] = 0xdc; b.writeUInt16BE(n, 1); t('msgpack 16K empty maps', () => msgpackSerializer.decode(b)); }
{ const n = 100000; const b = Buffer.alloc(5 + n, 0x80); b[0] = 0xdd; b.writeUInt32BE(n, 1); t('msgpack 100K empty maps', () => msgpackSerializer.decode(b)); }
{ const s = '[' + '{},'.repeat(100000) + '{}]'; t('json 100K empty maps', () => jsonSerializer.decode(s)); }
{ const s = '['.repeat(100) + ']'.repeat(100); t('json depth 100', () => jsonSerializer.decode(s)); }
// round trips
const val = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.double({ noNaN: true }), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array().map((a) => Buffer.from(a)), fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 5 })),
})).v;
const ce = new CE({ useRecords: false, mapsAsObjects: true, variableMapSize: true, tagUint8Array: true, pack: false });
fc.assert(fc.property(fc.array(val), (arr) => {
  const msg = [16, 1, {}, 'x', arr];
  for (const s of [cborSerializer, msgpackSerializer]) s.decode(s.encode(msg) as Uint8Array);
  cborSerializer.decode(ce.encode(msg));
  jsonSerializer.decode(jsonSerializer.encode(msg) as string);
}), { numRuns: 3000 });
console.log('round trips ok');
// indefinite-length CBOR
t('cbor indefinite', () => console.log(JSON.stringify(cborSerializer.decode(Buffer.from([0x9f, 0x01, 0x5f, 0x41, 0x61, 0xff, 0xbf, 0x61, 0x61, 0x02, 0xff, 0xff])))));
