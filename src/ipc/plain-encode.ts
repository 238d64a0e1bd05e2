/**
 * The encoding half of the plain branch of a results frame (see `results-frame.ts`). Most streamed
 * results are plain data (a step, a progress, a message): this encodes such a value in one pass,
 * with the bytes msgpackr writes for it with troupe's options, straight after room for the frame's
 * header. One small function instead of a walk that checks the value and then msgpackr's general
 * encoder: on a rank that sat idle between results, every piece of code the path touches costs
 * microseconds.
 *
 * Plain data is what JSON has, plus `undefined`: null, booleans, numbers, strings, arrays and
 * objects whose prototype is `Object.prototype`, at most MAX_DEPTH levels deep. On anything else
 * (bytes, an Image, a Map, a Date, a class instance, a function, a cycle) it gives up and returns
 * `undefined`; the caller then takes the general branch.
 */

/** Deeper than this, the value is left to the general branch (which finds cycles). */
const MAX_DEPTH = 64;
/** A scratch buffer that grew past this is dropped after use rather than kept. */
const KEEP_BYTES = 1024 * 1024;

const utf8 = new TextEncoder();
let buffer = new Uint8Array(8192);
let view = new DataView(buffer.buffer);
let at = 0;

/**
 * `reserve` bytes for the caller to fill, then `value` as msgpackr encodes it; `undefined` when
 * `value` is not plain data. The result is a view of a scratch buffer that the next call
 * overwrites: write or copy it first.
 */
export function encodePlain(value: unknown, reserve: number): Uint8Array | undefined {
  at = reserve;
  if (!write(value, 0)) return undefined;
  const encoded = buffer.subarray(0, at);
  if (buffer.byteLength > KEEP_BYTES) {
    buffer = new Uint8Array(8192);
    view = new DataView(buffer.buffer);
  }
  return encoded;
}

function write(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "number":
      writeNumber(value);
      return true;
    case "string":
      writeString(value);
      return true;
    case "boolean":
      room(1);
      buffer[at++] = value ? 0xc3 : 0xc2;
      return true;
    case "undefined":
      // msgpackr's undefined: fixext 1 of type 0.
      room(3);
      buffer[at++] = 0xd4;
      buffer[at++] = 0;
      buffer[at++] = 0;
      return true;
    case "object":
      if (value === null) {
        room(1);
        buffer[at++] = 0xc0;
        return true;
      }
      if (depth === MAX_DEPTH) return false;
      if (value.constructor === Object && Object.getPrototypeOf(value) === Object.prototype) {
        return writeObject(value as Record<string, unknown>, depth);
      }
      if (value.constructor === Array && Array.isArray(value)) return writeArray(value, depth);
      return false;
    default:
      return false;
  }
}

/** As msgpackr: the smallest integer format up to 32 bits, else a float64. */
function writeNumber(value: number): void {
  room(9);
  if (value >>> 0 === value) {
    if (value < 0x80) buffer[at++] = value;
    else if (value < 0x100) {
      buffer[at++] = 0xcc;
      buffer[at++] = value;
    } else if (value < 0x10000) tag16(0xcd, value);
    else tag32(0xce, value);
  } else if (value >> 0 === value) {
    if (value >= -0x20) buffer[at++] = 0x100 + value;
    else if (value >= -0x80) {
      buffer[at++] = 0xd0;
      buffer[at++] = value + 0x100;
    } else if (value >= -0x8000) {
      buffer[at++] = 0xd1;
      view.setInt16(at, value);
      at += 2;
    } else {
      buffer[at++] = 0xd2;
      view.setInt32(at, value);
      at += 4;
    }
  } else {
    buffer[at++] = 0xcb;
    view.setFloat64(at, value);
    at += 8;
  }
}

/**
 * As msgpackr: UTF-8 with the smallest header for its byte length. Like msgpackr, a string of
 * fewer than 64 UTF-16 units is encoded by hand (a lone surrogate as its three bytes), a longer
 * one by the platform's encoder (a lone surrogate as U+FFFD).
 */
function writeString(value: string): void {
  const units = value.length;
  room(5 + units * 3);
  const guess = headerSize(units);
  const start = at + guess;
  let end = start;
  if (units < 0x40) {
    for (let i = 0; i < units; i++) {
      let c1 = value.charCodeAt(i);
      if (c1 < 0x80) buffer[end++] = c1;
      else if (c1 < 0x800) {
        buffer[end++] = (c1 >> 6) | 0xc0;
        buffer[end++] = (c1 & 0x3f) | 0x80;
      } else if ((c1 & 0xfc00) === 0xd800 && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (value.charCodeAt(i + 1) & 0x03ff);
        i++;
        buffer[end++] = (c1 >> 18) | 0xf0;
        buffer[end++] = ((c1 >> 12) & 0x3f) | 0x80;
        buffer[end++] = ((c1 >> 6) & 0x3f) | 0x80;
        buffer[end++] = (c1 & 0x3f) | 0x80;
      } else {
        buffer[end++] = (c1 >> 12) | 0xe0;
        buffer[end++] = ((c1 >> 6) & 0x3f) | 0x80;
        buffer[end++] = (c1 & 0x3f) | 0x80;
      }
    }
  } else {
    end = start + utf8.encodeInto(value, buffer.subarray(start)).written;
  }
  const bytes = end - start;
  const size = headerSize(bytes);
  if (size !== guess) buffer.copyWithin(at + size, start, end);
  if (size === 1) buffer[at++] = 0xa0 | bytes;
  else if (size === 2) {
    buffer[at++] = 0xd9;
    buffer[at++] = bytes;
  } else if (size === 3) tag16(0xda, bytes);
  else tag32(0xdb, bytes);
  at += bytes;
}

function headerSize(length: number): number {
  return length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}

/** As msgpackr without records: always a map 16, own enumerable string keys in order. */
function writeObject(object: Record<string, unknown>, depth: number): boolean {
  room(3);
  const header = at;
  buffer[at] = 0xde;
  at += 3;
  let size = 0;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    writeString(key);
    if (!write(object[key], depth + 1)) return false;
    size++;
  }
  // msgpackr throws past 65535 keys; the general branch lets it.
  if (size > 0xffff) return false;
  buffer[header + 1] = size >> 8;
  buffer[header + 2] = size & 0xff;
  return true;
}

function writeArray(array: readonly unknown[], depth: number): boolean {
  const length = array.length;
  room(5);
  if (length < 0x10) buffer[at++] = 0x90 | length;
  else if (length < 0x10000) tag16(0xdc, length);
  else tag32(0xdd, length);
  for (let i = 0; i < length; i++) if (!write(array[i], depth + 1)) return false;
  return true;
}

/** A type byte and a big-endian 16-bit value (room made by the caller). */
function tag16(type: number, value: number): void {
  buffer[at++] = type;
  buffer[at++] = value >> 8;
  buffer[at++] = value & 0xff;
}

/** A type byte and a big-endian 32-bit value (room made by the caller). */
function tag32(type: number, value: number): void {
  buffer[at++] = type;
  view.setUint32(at, value);
  at += 4;
}

/** Makes room for `bytes` more at `at`, growing the scratch buffer (what is written stays). */
function room(bytes: number): void {
  if (at + bytes <= buffer.byteLength) return;
  let size = buffer.byteLength * 2;
  while (size < at + bytes) size *= 2;
  const grown = new Uint8Array(size);
  grown.set(buffer.subarray(0, at));
  buffer = grown;
  view = new DataView(grown.buffer);
}
