// The page speaks JSON only; CBOR (and its Node stream polyfills) stays out
// of the bundle. See msgpack5.cjs.
const no = () => { throw new Error('CBOR is not bundled in the web client; use JSON'); };
module.exports = { encodeAsync: no, decodeFirstSync: no };
