// The operator dashboard signs WAMP-CRA challenges (HMAC-SHA256, and PBKDF2
// for salted secrets). autobahn requires all of crypto-js for that; this
// loads only the parts WAMP-CRA uses, on the same CryptoJS object.
const CryptoJS = require('crypto-js/core');
require('crypto-js/enc-base64');
require('crypto-js/sha256');
require('crypto-js/hmac-sha256');
require('crypto-js/pbkdf2');
module.exports = CryptoJS;
