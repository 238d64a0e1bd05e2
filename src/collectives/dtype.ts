import { InvalidArgumentError } from "../errors.ts";

/** The element types a collective can carry. `float16` travels as raw `Uint16Array` bits. */
export type DType =
  | "float32"
  | "float64"
  | "int8"
  | "int16"
  | "int32"
  | "uint8"
  | "uint16"
  | "uint32"
  | "bigint64"
  | "biguint64";

/** Any TypedArray a collective accepts (a view into a larger buffer is fine). */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

type TypedArrayConstructor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

interface DTypeInfo {
  readonly name: DType;
  /** Wire code, stable across versions. */
  readonly code: number;
  readonly ctor: TypedArrayConstructor;
  readonly size: number;
  readonly float: boolean;
}

const table: readonly DTypeInfo[] = [
  { name: "float32", code: 1, ctor: Float32Array, size: 4, float: true },
  { name: "float64", code: 2, ctor: Float64Array, size: 8, float: true },
  { name: "int8", code: 3, ctor: Int8Array, size: 1, float: false },
  { name: "int16", code: 4, ctor: Int16Array, size: 2, float: false },
  { name: "int32", code: 5, ctor: Int32Array, size: 4, float: false },
  { name: "uint8", code: 6, ctor: Uint8Array, size: 1, float: false },
  { name: "uint16", code: 7, ctor: Uint16Array, size: 2, float: false },
  { name: "uint32", code: 8, ctor: Uint32Array, size: 4, float: false },
  { name: "bigint64", code: 9, ctor: BigInt64Array, size: 8, float: false },
  { name: "biguint64", code: 10, ctor: BigUint64Array, size: 8, float: false },
];

const byCode = new Map(table.map((info) => [info.code, info]));
const byName = new Map(table.map((info) => [info.name, info]));

/** Facts about a dtype by its wire code; `undefined` for an unknown code. */
export function dtypeByCode(code: number): DTypeInfo | undefined {
  return byCode.get(code);
}

/** Facts about a dtype by name. */
export function dtypeInfo(name: DType): DTypeInfo {
  const info = byName.get(name);
  if (info === undefined) throw new InvalidArgumentError(`Unknown dtype \`${String(name)}\``);
  return info;
}

/** The dtype of a TypedArray; throws INVALID_ARGUMENT naming `what` for anything else. */
export function dtypeOf(value: unknown, what: string): DTypeInfo {
  if (value instanceof Float32Array) return table[0] as DTypeInfo;
  if (value instanceof Float64Array) return table[1] as DTypeInfo;
  if (value instanceof Int8Array) return table[2] as DTypeInfo;
  if (value instanceof Int16Array) return table[3] as DTypeInfo;
  if (value instanceof Int32Array) return table[4] as DTypeInfo;
  if (value instanceof Uint8Array || value instanceof Uint8ClampedArray) {
    return table[5] as DTypeInfo;
  }
  if (value instanceof Uint16Array) return table[6] as DTypeInfo;
  if (value instanceof Uint32Array) return table[7] as DTypeInfo;
  if (value instanceof BigInt64Array) return table[8] as DTypeInfo;
  if (value instanceof BigUint64Array) return table[9] as DTypeInfo;
  throw new InvalidArgumentError(`Expected \`${what}\` to be a TypedArray, got ${describe(value)}`);
}

/** The bytes a TypedArray view covers, without copying. */
export function bytesOf(view: TypedArray): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A new TypedArray of `info`'s type and `length` elements. */
export function allocate(info: DTypeInfo, length: number): TypedArray {
  return new info.ctor(length);
}

/** A TypedArray of `info`'s type viewing `bytes` (which must be aligned, or is copied). */
export function viewAs(info: DTypeInfo, bytes: Uint8Array): TypedArray {
  if (bytes.byteOffset % info.size === 0) {
    return new info.ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / info.size);
  }
  const copy = new Uint8Array(bytes);
  return new info.ctor(copy.buffer, 0, copy.byteLength / info.size);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (typeof value === "object") return value.constructor?.name ?? "object";
  if (typeof value === "string") return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

export type { DTypeInfo };
