// Stands in for Node built-ins that browser code only probes for (`crypto`
// in tweetnacl/crypto-js, which use window.crypto instead; `fs` in
// autobahn's Node-only trace logging).
module.exports = {};
