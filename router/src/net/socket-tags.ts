// Which listener accepted a socket, and whether it is a Unix-domain socket.
// The express app is shared by every web listener, so an HTTP request is
// matched to its listener's paths through this tag rather than its local
// port (a Unix socket has none); and a Unix-socket peer is a local process
// with no address: named `unix`, never counted per address.
export interface SocketTag {
  /** The listener (transport) id. */
  listener: string;
  unix: boolean;
}

const tags = new WeakMap<object, SocketTag>();

export function tagSocket(socket: object, tag: SocketTag): void {
  tags.set(socket, tag);
}

export function socketTag(socket: object): SocketTag | undefined {
  return tags.get(socket);
}

/** True for a socket a Unix-socket listener accepted. */
export function isUnixSocket(socket: object): boolean {
  return tags.get(socket)?.unix === true;
}
