/**
 * The other half of `plain-encode.ts`, and the short branch of `decodeValue`: decodes MessagePack
 * that holds only plain data to the value msgpackr's `unpack` gives for it, in one small function
 * rather than msgpackr's general decoder (on a runner that sat idle between results, every piece
 * of code a result's path touches costs microseconds). Plain data is null, booleans, numbers up
 * to 32-bit integers or float64, `undefined` (msgpackr's fixext 1 of type 0), well-formed UTF-8
 * strings, arrays, and maps with string keys, which arrive as plain objects.
 *
 * Anything else (bytes, extensions such as Image or Tensor, float32, 64-bit integers, a
 * `__proto__` key, which msgpackr renames, malformed UTF-8, a truncated value, bytes after it)
 * gives {@link NOT_PLAIN}, and the caller hands the bytes to msgpackr, which decodes them or says
 * what is wrong with them.
 */

/** What {@link decodePlain} gives for bytes it leaves to msgpackr. */
export const NOT_PLAIN: unique symbol = Symbol("not plain MessagePack");

const MAX_DEPTH = 64;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Eight bytes seen as a float64, to read one without a DataView per value. */
const floatBytes = new Uint8Array(8);
const float = new Float64Array(floatBytes.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const EMPTY: Uint8Array = new Uint8Array(0);
let src = EMPTY;
let at = 0;
let end = 0;

/** The value msgpackr would decode from `bytes`, or NOT_PLAIN. */
export function decodePlain(bytes: Uint8Array): unknown {
  src = bytes;
  at = 0;
  end = bytes.byteLength;
  const value = read(0);
  const done = at === end;
  src = EMPTY;
  return done ? value : NOT_PLAIN;
}

function read(depth: number): unknown {
  if (at >= end) return NOT_PLAIN;
  const token = src[at++] as number;
  if (token < 0x80) return token;
  if (token < 0x90) return readMap(token - 0x80, depth);
  if (token < 0xa0) return readArray(token - 0x90, depth);
  if (token < 0xc0) return readString(token - 0xa0);
  if (token >= 0xe0) return token - 0x100;
  switch (token) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcb:
      return readFloat64();
    case 0xcc:
      return at + 1 <= end ? src[at++] : NOT_PLAIN;
    case 0xcd:
      return at + 2 <= end ? readUnsigned(2) : NOT_PLAIN;
    case 0xce:
      return at + 4 <= end ? readUnsigned(4) : NOT_PLAIN;
    case 0xd0:
      return at + 1 <= end ? (readUnsigned(1) << 24) >> 24 : NOT_PLAIN;
    case 0xd1:
      return at + 2 <= end ? (readUnsigned(2) << 16) >> 16 : NOT_PLAIN;
    case 0xd2:
      return at + 4 <= end ? readUnsigned(4) | 0 : NOT_PLAIN;
    case 0xd4:
      // msgpackr's undefined: fixext 1 of type 0 (and a filler byte).
      if (at + 2 > end || src[at] !== 0) return NOT_PLAIN;
      at += 2;
      return undefined;
    case 0xd9:
      return at + 1 <= end ? readString(readUnsigned(1)) : NOT_PLAIN;
    case 0xda:
      return at + 2 <= end ? readString(readUnsigned(2)) : NOT_PLAIN;
    case 0xdb:
      return at + 4 <= end ? readString(readUnsigned(4)) : NOT_PLAIN;
    case 0xdc:
      return at + 2 <= end ? readArray(readUnsigned(2), depth) : NOT_PLAIN;
    case 0xdd:
      return at + 4 <= end ? readArray(readUnsigned(4), depth) : NOT_PLAIN;
    case 0xde:
      return at + 2 <= end ? readMap(readUnsigned(2), depth) : NOT_PLAIN;
    case 0xdf:
      return at + 4 <= end ? readMap(readUnsigned(4), depth) : NOT_PLAIN;
    default:
      return NOT_PLAIN;
  }
}

/** A big-endian unsigned integer of `bytes` (1, 2 or 4) bytes; the caller checked they are there. */
function readUnsigned(bytes: number): number {
  let value = 0;
  for (let i = 0; i < bytes; i++) value = value * 256 + (src[at++] as number);
  return value;
}

function readFloat64(): unknown {
  if (at + 8 > end) return NOT_PLAIN;
  for (let i = 0; i < 8; i++) floatBytes[littleEndian ? 7 - i : i] = src[at + i] as number;
  at += 8;
  return float[0];
}

function readString(length: number): unknown {
  if (at + length > end) return NOT_PLAIN;
  const start = at;
  at += length;
  if (length < 32) {
    // Short ASCII, the usual key or label: no decoder call.
    let text = "";
    for (let i = start; i < at; i++) {
      const byte = src[i] as number;
      if (byte >= 0x80) return decodeUtf8(start, at);
      text += String.fromCharCode(byte);
    }
    return text;
  }
  return decodeUtf8(start, at);
}

function decodeUtf8(start: number, stop: number): unknown {
  try {
    return utf8.decode(src.subarray(start, stop));
  } catch {
    return NOT_PLAIN; // malformed, or a lone surrogate: msgpackr has its own way with those
  }
}

function readArray(length: number, depth: number): unknown {
  if (depth === MAX_DEPTH || length > end - at) return NOT_PLAIN;
  const array: unknown[] = new Array(length);
  for (let i = 0; i < length; i++) {
    const value = read(depth + 1);
    if (value === NOT_PLAIN) return NOT_PLAIN;
    array[i] = value;
  }
  return array;
}

function readMap(size: number, depth: number): unknown {
  if (depth === MAX_DEPTH || size > end - at) return NOT_PLAIN;
  const object: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    const token = at < end ? (src[at] as number) : -1;
    // Keys are strings: fixstr, str 8, str 16 or str 32.
    if (!((token >= 0xa0 && token < 0xc0) || (token >= 0xd9 && token <= 0xdb))) return NOT_PLAIN;
    const key = read(depth + 1);
    if (key === NOT_PLAIN || key === "__proto__") return NOT_PLAIN;
    const value = read(depth + 1);
    if (value === NOT_PLAIN) return NOT_PLAIN;
    object[key as string] = value;
  }
  return object;
}
