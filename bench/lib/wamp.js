// Just enough WAMP for a load generator: message codes, the two serializers
// (JSON in text frames, MessagePack in binary frames) and a cheap "peek at the
// message type" that avoids a full decode on the hot path.
import { msgpack } from './deps.js';

export const T = {
  HELLO: 1, WELCOME: 2, ABORT: 3, GOODBYE: 6, ERROR: 8,
  PUBLISH: 16, PUBLISHED: 17, SUBSCRIBE: 32, SUBSCRIBED: 33, EVENT: 36,
  CALL: 48, RESULT: 50, REGISTER: 64, REGISTERED: 65, INVOCATION: 68, YIELD: 70,
};

const encoder = new msgpack.Encoder({ ignoreUndefined: true });
const decoder = new msgpack.Decoder();

/** Type code of a JSON frame ("[36,...") without parsing it; -1 if unsure. */
function peekJson(buf) {
  let i = 0;
  const n = buf.length;
  while (i < n && buf[i] !== 0x5b) i++; // '['
  i++;
  while (i < n && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
  let v = 0;
  let digits = 0;
  while (i < n && buf[i] >= 0x30 && buf[i] <= 0x39) { v = v * 10 + (buf[i] - 0x30); i++; digits++; }
  return digits > 0 ? v : -1;
}

/** Type code of a MessagePack frame: fixarray/array16/array32 header, then a positive fixint. */
function peekMsgpack(buf) {
  const b0 = buf[0];
  let i;
  if (b0 >= 0x90 && b0 <= 0x9f) i = 1;
  else if (b0 === 0xdc) i = 3;
  else if (b0 === 0xdd) i = 5;
  else return -1;
  const t = buf[i];
  if (t < 0x80) return t;
  if (t === 0xcc) return buf[i + 1];
  return -1;
}

export const codecs = {
  json: {
    name: 'json',
    protocol: 'wamp.2.json',
    binary: false,
    encode: (msg) => JSON.stringify(msg),
    decode: (buf) => JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8')),
    peek: peekJson,
  },
  msgpack: {
    name: 'msgpack',
    protocol: 'wamp.2.msgpack',
    binary: true,
    // copy: the encoder reuses its internal buffer between calls
    encode: (msg) => Buffer.from(encoder.encode(msg)),
    decode: (buf) => decoder.decode(buf),
    peek: peekMsgpack,
  },
};

export const HELLO_DETAILS = { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } };
