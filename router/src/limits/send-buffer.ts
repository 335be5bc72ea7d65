// When a peer that does not read its socket is dropped. Unsent bytes (the
// socket's writable buffer, including this tick's corked write batch, plus
// ws's own queue) above the bound mean the peer is not keeping up; keeping
// them would let one slow or malicious client hold unbounded router memory.
//
// One message larger than the bound is still let through when nothing else
// is waiting, so a bound below the largest message a peer may receive never
// cuts off a peer that does read.
export function sendBufferExceeded(bufferedBefore: number, bufferedAfter: number, maxSendBuffer: number): boolean {
  return bufferedAfter > maxSendBuffer && bufferedBefore > 0;
}
