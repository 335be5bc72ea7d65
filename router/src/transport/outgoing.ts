// A message on its way out, with its encodings cached per serializer. The
// broker builds one Outgoing per subscription and hands it to every
// subscriber, so a publication to N subscribers costs one encode per
// serializer in use, not N.
import type { RouterMessage } from '../messages/types.js';
import { toWire } from '../messages/encode.js';
import type { Serializer } from '../serializers/index.js';

export class Outgoing {
  private wire: unknown[] | undefined;
  private json: Buffer | undefined;
  private msgpack: Buffer | undefined;
  private cbor: Buffer | undefined;

  constructor(readonly message: RouterMessage) {}

  /** Encoded bytes (text for JSON is UTF-8 once here, not once per socket). */
  encoded(serializer: Serializer): Buffer {
    const id = serializer.id;
    const cached = this[id];
    if (cached !== undefined) return cached;
    this.wire ??= toWire(this.message);
    const encoded = serializer.encode(this.wire);
    const bytes = typeof encoded === 'string'
      ? Buffer.from(encoded, 'utf8')
      : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    this[id] = bytes;
    return bytes;
  }
}
