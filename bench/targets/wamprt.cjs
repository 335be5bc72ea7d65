// wamp.rt 0.2.0 as its README/examples start it: `new WampRouter({port})`.
// (Its own ws 0.8 and JSON only; realm-less, Basic Profile.)
const WampRouter = require('wamp.rt');

const port = Number(process.argv[2] ?? 9000);
const router = new WampRouter({ port, host: '127.0.0.1' });
void router;
// ws 0.8's server has no 'listening' hook through wamp.rt; the harness polls the port.
process.stdout.write(`READY ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
