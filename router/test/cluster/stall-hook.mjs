// A test fixture (cluster-stall.test.ts), loaded into a router node's processes with
// NODE_OPTIONS=--import: on SIGUSR2 the JavaScript thread is blocked for STALL_MS, inside a timer
// callback, as a long GC pause or CPU starvation would block it. (SIGSTOP is no stand-in: after
// SIGCONT, libuv runs the timers before it reads the sockets, so the node takes the others for gone
// and joined again, and writes its entries again by chance.)
const ms = Number(process.env.STALL_MS ?? 3000);
let pending = false;
process.on('SIGUSR2', () => { pending = true; });
const timer = setInterval(() => {
  if (!pending) return;
  pending = false;
  const end = Date.now() + ms;
  while (Date.now() < end) { /* stalled */ }
}, 20);
timer.unref();
