// Authentication code the page never runs (cryptosign's tweetnacl on both
// pages, WAMP-CRA's crypto-js on the player page, which logs in with a
// ticket). autobahn requires it at load time; any use throws.
const no = () => { throw new Error('this authentication method is not bundled in this page'); };
module.exports = new Proxy({}, { get: (_t, key) => (key === '__esModule' ? false : no) });
