// The kernel's GPIO character-device uAPI v2 (include/uapi/linux/gpio.h,
// Linux >= 5.10): ioctl numbers, flags, and the structs laid out in Buffers.
// Pure: no I/O here. The structs are defined with explicit padding and 64-bit
// alignment so that they are byte-identical on every ABI (x86-64, arm64,
// armhf), which is what lets us lay them out by hand; `test/gpio-cdev.test.ts`
// checks every size, offset and ioctl number against the kernel's header.
// Little-endian only (every Raspberry Pi, x86); the ioctl direction bits are
// asm-generic's (x86, arm, arm64; not mips/powerpc/sparc).

export const GPIO_MAX_NAME_SIZE = 32;
export const GPIO_V2_LINES_MAX = 64;
export const GPIO_V2_LINE_NUM_ATTRS_MAX = 10;

/** enum gpio_v2_line_flag (bits of a 64-bit word). */
export const LineFlag = {
  USED: 1n << 0n,
  ACTIVE_LOW: 1n << 1n,
  INPUT: 1n << 2n,
  OUTPUT: 1n << 3n,
  EDGE_RISING: 1n << 4n,
  EDGE_FALLING: 1n << 5n,
  OPEN_DRAIN: 1n << 6n,
  OPEN_SOURCE: 1n << 7n,
  BIAS_PULL_UP: 1n << 8n,
  BIAS_PULL_DOWN: 1n << 9n,
  BIAS_DISABLED: 1n << 10n,
  EVENT_CLOCK_REALTIME: 1n << 11n,
} as const;

/** enum gpio_v2_line_attr_id */
export const AttrId = { FLAGS: 1, OUTPUT_VALUES: 2, DEBOUNCE: 3 } as const;

/** enum gpio_v2_line_event_id: with ACTIVE_LOW the kernel reports logical edges (rising = to active). */
export const EventId = { RISING_EDGE: 1, FALLING_EDGE: 2 } as const;

export const Size = {
  chipInfo: 68,
  lineAttribute: 16,
  lineConfigAttribute: 24,
  lineConfig: 272,
  lineRequest: 592,
  lineInfo: 256,
  lineValues: 16,
  lineEvent: 48,
} as const;

/** Byte offsets inside the structs (the test compares them with offsetof()). */
export const Offset = {
  chipInfo: { name: 0, label: 32, lines: 64 },
  lineConfig: { flags: 0, numAttrs: 8, attrs: 32 },
  lineRequest: { offsets: 0, consumer: 256, config: 288, numLines: 560, eventBufferSize: 564, fd: 588 },
  lineInfo: { name: 0, consumer: 32, offset: 64, numAttrs: 68, flags: 72, attrs: 80 },
  lineEvent: { timestampNs: 0, id: 8, offset: 12, seqno: 16, lineSeqno: 20 },
} as const;

const IOC_WRITE = 1;
const IOC_READ = 2;
const ioc = (dir: number, nr: number, size: number): number => ((dir << 30) >>> 0) + (size << 16) + (0xb4 << 8) + nr;

export const Ioctl = {
  GET_CHIPINFO: ioc(IOC_READ, 0x01, Size.chipInfo),
  V2_GET_LINEINFO: ioc(IOC_READ | IOC_WRITE, 0x05, Size.lineInfo),
  V2_GET_LINE: ioc(IOC_READ | IOC_WRITE, 0x07, Size.lineRequest),
  V2_LINE_SET_CONFIG: ioc(IOC_READ | IOC_WRITE, 0x0d, Size.lineConfig),
  V2_LINE_GET_VALUES: ioc(IOC_READ | IOC_WRITE, 0x0e, Size.lineValues),
  V2_LINE_SET_VALUES: ioc(IOC_READ | IOC_WRITE, 0x0f, Size.lineValues),
} as const;

function cString(buf: Buffer, at: number, size: number): string {
  const field = buf.subarray(at, at + size);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? size : end).toString('utf8');
}

export interface ChipInfo { name: string; label: string; lines: number }

export function decodeChipInfo(buf: Buffer): ChipInfo {
  const o = Offset.chipInfo;
  return { name: cString(buf, o.name, GPIO_MAX_NAME_SIZE), label: cString(buf, o.label, GPIO_MAX_NAME_SIZE), lines: buf.readUInt32LE(o.lines) };
}

export interface LineInfo { name: string; consumer: string; offset: number; flags: bigint }

/** A struct gpio_v2_line_info asking about one line (the kernel fills in the rest). */
export function encodeLineInfoQuery(offset: number): Buffer {
  const buf = Buffer.alloc(Size.lineInfo);
  buf.writeUInt32LE(offset, Offset.lineInfo.offset);
  return buf;
}

export function decodeLineInfo(buf: Buffer): LineInfo {
  const o = Offset.lineInfo;
  return {
    name: cString(buf, o.name, GPIO_MAX_NAME_SIZE),
    consumer: cString(buf, o.consumer, GPIO_MAX_NAME_SIZE),
    offset: buf.readUInt32LE(o.offset),
    flags: buf.readBigUInt64LE(o.flags),
  };
}

export interface LineRequestSpec {
  offsets: readonly number[];
  consumer: string;
  /** Flags for every line of the request. */
  flags: bigint;
  /** Initial output values (logical), bit i = offsets[i]; only with OUTPUT. */
  outputValues?: bigint;
  /** Software debounce in µs for every line (inputs with edge detection). */
  debounceUs?: number;
}

/** struct gpio_v2_line_request for lines that share their flags (one request per line is what the driver makes). */
export function encodeLineRequest(spec: LineRequestSpec): Buffer {
  if (spec.offsets.length < 1 || spec.offsets.length > GPIO_V2_LINES_MAX) throw new RangeError(`a request has 1 to ${GPIO_V2_LINES_MAX} lines`);
  const buf = Buffer.alloc(Size.lineRequest);
  const o = Offset.lineRequest;
  spec.offsets.forEach((offset, i) => buf.writeUInt32LE(offset, o.offsets + 4 * i));
  // consumer: at most 31 bytes and the NUL the kernel expects
  Buffer.from(spec.consumer, 'utf8').subarray(0, GPIO_MAX_NAME_SIZE - 1).copy(buf, o.consumer);
  const cfg = o.config;
  buf.writeBigUInt64LE(spec.flags, cfg + Offset.lineConfig.flags);
  const all = spec.offsets.length === 64 ? (1n << 64n) - 1n : (1n << BigInt(spec.offsets.length)) - 1n;
  const attrs: { id: number; write: (b: Buffer, at: number) => void }[] = [];
  if (spec.outputValues !== undefined) {
    const values = spec.outputValues;
    attrs.push({ id: AttrId.OUTPUT_VALUES, write: (b, at) => b.writeBigUInt64LE(values & all, at) });
  }
  if (spec.debounceUs !== undefined) {
    const us = spec.debounceUs;
    attrs.push({ id: AttrId.DEBOUNCE, write: (b, at) => b.writeUInt32LE(us, at) });
  }
  buf.writeUInt32LE(attrs.length, cfg + Offset.lineConfig.numAttrs);
  attrs.forEach((a, i) => {
    const at = cfg + Offset.lineConfig.attrs + i * Size.lineConfigAttribute;
    buf.writeUInt32LE(a.id, at); // attr.id; attr.padding stays 0
    a.write(buf, at + 8); // the union
    buf.writeBigUInt64LE(all, at + Size.lineAttribute); // mask: every line of the request
  });
  buf.writeUInt32LE(spec.offsets.length, o.numLines);
  return buf;
}

/** The line request's file descriptor, as the kernel wrote it back. */
export function decodeLineRequestFd(buf: Buffer): number {
  return buf.readInt32LE(Offset.lineRequest.fd);
}

/** struct gpio_v2_line_values: bits (logical values) for the lines in mask. */
export function encodeLineValues(bits: bigint, mask: bigint): Buffer {
  const buf = Buffer.alloc(Size.lineValues);
  buf.writeBigUInt64LE(bits, 0);
  buf.writeBigUInt64LE(mask, 8);
  return buf;
}

export function decodeLineValues(buf: Buffer): bigint {
  return buf.readBigUInt64LE(0);
}

export interface LineEvent {
  /** CLOCK_MONOTONIC (the default event clock), nanoseconds. */
  timestampNs: bigint;
  /** true = rising edge, i.e. to logically active (the kernel applies active-low). */
  rising: boolean;
  offset: number;
  seqno: number;
  lineSeqno: number;
}

/** Decodes every whole struct gpio_v2_line_event in the first `length` bytes. */
export function decodeLineEvents(buf: Buffer, length: number): LineEvent[] {
  const out: LineEvent[] = [];
  const o = Offset.lineEvent;
  for (let at = 0; at + Size.lineEvent <= length; at += Size.lineEvent) {
    out.push({
      timestampNs: buf.readBigUInt64LE(at + o.timestampNs),
      rising: buf.readUInt32LE(at + o.id) === EventId.RISING_EDGE,
      offset: buf.readUInt32LE(at + o.offset),
      seqno: buf.readUInt32LE(at + o.seqno),
      lineSeqno: buf.readUInt32LE(at + o.lineSeqno),
    });
  }
  return out;
}
