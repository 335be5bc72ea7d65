// The page speaks JSON only; MessagePack (and its Node stream polyfills)
// stays out of the bundle. autobahn builds its serializer list at load time,
// so this must load; it fails only if someone selects the serializer.
module.exports = function msgpack5() {
  const no = () => { throw new Error('MessagePack is not bundled in the web client; use JSON'); };
  return { encode: no, decode: no };
};
