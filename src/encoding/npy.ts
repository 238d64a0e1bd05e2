/**
 * NumPy `.npy` (format version 1.0) encoding, so a Python client can `numpy.load` a tensor from
 * an event. Pure functions over bytes; little-endian data, as on every platform Node runs on.
 */
import { InvalidPayloadError } from "../errors.ts";

/** Element types a {@link Tensor} can hold. `float16` is stored as raw `Uint16Array` bits. */
export type TensorDType =
  | "float16"
  | "float32"
  | "float64"
  | "int8"
  | "int16"
  | "int32"
  | "uint8"
  | "uint16"
  | "uint32"
  | "int64"
  | "uint64";

/** The TypedArray that holds each dtype. */
export interface TensorData {
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
}

type Ctor = new (
  buffer: ArrayBuffer,
  byteOffset?: number,
  length?: number,
) => TensorData[TensorDType];

/** dtype -> NumPy descr and array class. */
export const DTYPES: Readonly<Record<TensorDType, { descr: string; ctor: Ctor; size: number }>> = {
  float16: { descr: "<f2", ctor: Uint16Array, size: 2 },
  float32: { descr: "<f4", ctor: Float32Array, size: 4 },
  float64: { descr: "<f8", ctor: Float64Array, size: 8 },
  int8: { descr: "|i1", ctor: Int8Array, size: 1 },
  int16: { descr: "<i2", ctor: Int16Array, size: 2 },
  int32: { descr: "<i4", ctor: Int32Array, size: 4 },
  uint8: { descr: "|u1", ctor: Uint8Array, size: 1 },
  uint16: { descr: "<u2", ctor: Uint16Array, size: 2 },
  uint32: { descr: "<u4", ctor: Uint32Array, size: 4 },
  int64: { descr: "<i8", ctor: BigInt64Array, size: 8 },
  uint64: { descr: "<u8", ctor: BigUint64Array, size: 8 },
};

const byDescr = new Map(
  Object.entries(DTYPES).map(([dtype, info]) => [info.descr, dtype as TensorDType]),
);
// NumPy writes one-byte types with "|", but "<" and ">" mean the same for them.
byDescr.set("<i1", "int8");
byDescr.set("<u1", "uint8");

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const PREAMBLE = MAGIC.length + 2 + 2; // magic, version 1.0, header length
const ALIGN = 64;

/** The `.npy` bytes of `data` (C order) with `shape`. */
export function encodeNpy(
  data: ArrayBufferView,
  shape: readonly number[],
  dtype: TensorDType,
): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let header = `{'descr': '${DTYPES[dtype].descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad with spaces so the data starts on a 64-byte boundary, ending the header with "\n".
  const total = Math.ceil((PREAMBLE + header.length + 1) / ALIGN) * ALIGN;
  header = `${header.padEnd(total - PREAMBLE - 1, " ")}\n`;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[PREAMBLE + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/** Reads `.npy` bytes (versions 1-3, C order, little-endian) back into data, shape and dtype. */
export function decodeNpy(bytes: Uint8Array): {
  data: TensorData[TensorDType];
  shape: number[];
  dtype: TensorDType;
} {
  if (bytes.byteLength < PREAMBLE || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new InvalidPayloadError("Not a .npy file: the magic string \\x93NUMPY is missing");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6] as number;
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes;
  const headerBytes = bytes.subarray(start, start + headerLength);
  // Versions 1 and 2 write the header in latin1, version 3 in UTF-8.
  const header = major >= 3 ? new TextDecoder().decode(headerBytes) : latin1(headerBytes);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const dtype = descr === undefined ? undefined : byDescr.get(descr);
  if (dtype === undefined || fortran !== "False" || shapeText === undefined) {
    throw new InvalidPayloadError(
      `Unsupported .npy header ${JSON.stringify(header.trim())}: expected a little-endian numeric dtype in C order`,
    );
  }
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const { ctor, size } = DTYPES[dtype];
  const offset = start + headerLength;
  if (bytes.byteLength - offset < count * size) {
    throw new InvalidPayloadError(
      `Truncated .npy data: shape (${shape.join(", ")}) needs ${count * size} bytes, got ${bytes.byteLength - offset}`,
    );
  }
  // Copy into a fresh, aligned buffer: the view into `bytes` may not be aligned for the type.
  // (A Buffer's slice() is a view, not a copy: copy explicitly.)
  const buffer = new Uint8Array(bytes.subarray(offset, offset + count * size)).buffer;
  return { data: new ctor(buffer, 0, count), shape, dtype };
}

/**
 * Bytes 0-255 as the code points 0-255. Not `TextDecoder("latin1")`: the Encoding Standard makes
 * that label windows-1252, which Node 22+ follows (0x80-0x9f become other characters).
 */
function latin1(bytes: Uint8Array): string {
  let text = "";
  // In slices: spreading a large array into one call would overflow the stack.
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}
