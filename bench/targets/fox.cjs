// fox-wamp 0.7.28 as its README starts it: `new FoxRouter()` then
// `router.listenWAMP({port})` (in-memory engine, realms created on HELLO).
const FoxRouter = require('fox-wamp');

const port = Number(process.argv[2] ?? 9000);
const router = new FoxRouter();
const server = router.listenWAMP({ port, host: '127.0.0.1', perMessageDeflate: false });
server.on('listening', () => process.stdout.write(`READY ${port}\n`));
process.on('SIGTERM', () => process.exit(0));
