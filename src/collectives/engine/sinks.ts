import { type DTypeInfo, dtypeByCode, type TypedArray } from "../dtype.ts";
import { CollectiveMismatchError } from "../errors.ts";
import { reduceInto } from "../kernels/reduce-into.ts";

/** Where the payload of one incoming message goes. Pieces arrive in order. */
export interface Sink {
  /** Called once the size and dtype are known; returns an error to refuse the message. */
  start(total: number, dtype: number): Error | undefined;
  piece(offset: number, bytes: Uint8Array): void;
  end(): void;
}

function mismatch(what: string, expected: string, got: string): CollectiveMismatchError {
  return new CollectiveMismatchError(`Expected ${what} of ${expected}, got ${got}`, {
    details: { expected, got },
  });
}

function checkDtype(expected: DTypeInfo | undefined, code: number): Error | undefined {
  if (expected === undefined || code === 0 || code === expected.code) return undefined;
  return mismatch("a tensor", expected.name, dtypeByCode(code)?.name ?? `dtype ${code}`);
}

/** Copies the payload into `dest`, which must have exactly its size. */
export class CopySink implements Sink {
  constructor(
    readonly dest: Uint8Array,
    readonly dtype?: DTypeInfo,
  ) {}
  start(total: number, dtype: number): Error | undefined {
    if (total !== this.dest.byteLength) {
      return mismatch("a message", `${this.dest.byteLength} bytes`, `${total} bytes`);
    }
    return checkDtype(this.dtype, dtype);
  }
  piece(offset: number, bytes: Uint8Array): void {
    this.dest.set(bytes, offset);
  }
  end(): void {}
}

/** Keeps the payload in a new buffer of its size, whatever it is. */
export class AllocSink implements Sink {
  bytes: Uint8Array = new Uint8Array(0);
  dtype = 0;
  start(total: number, dtype: number): Error | undefined {
    this.bytes = Buffer.allocUnsafeSlow(total);
    this.dtype = dtype;
    return undefined;
  }
  piece(offset: number, bytes: Uint8Array): void {
    this.bytes.set(bytes, offset);
  }
  end(): void {}
}

/**
 * Reduces the payload into `dest` element by element as it arrives. Pieces split elements
 * anywhere and sit at any byte alignment, so partial elements wait in a carry and unaligned runs
 * go through a small aligned scratch buffer.
 */
export class ReduceSink implements Sink {
  readonly #carry: Uint8Array;
  #carryFill = 0;
  #scratch: Uint8Array | undefined;
  readonly #destBytes: Uint8Array;

  constructor(
    readonly dest: TypedArray,
    readonly dtype: DTypeInfo,
    readonly op: number,
  ) {
    this.#carry = new Uint8Array(dtype.size);
    this.#destBytes = new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength);
  }

  start(total: number, dtype: number): Error | undefined {
    if (total !== this.dest.byteLength) {
      return mismatch("a message", `${this.dest.byteLength} bytes`, `${total} bytes`);
    }
    return checkDtype(this.dtype, dtype);
  }

  piece(offset: number, bytes: Uint8Array): void {
    const size = this.dtype.size;
    let at = 0;
    let position = offset;
    if (this.#carryFill > 0) {
      const take = Math.min(size - this.#carryFill, bytes.length);
      this.#carry.set(bytes.subarray(0, take), this.#carryFill);
      this.#carryFill += take;
      at = take;
      position += take;
      if (this.#carryFill < size) return;
      this.#apply(position - size, this.#carry);
      this.#carryFill = 0;
    }
    const whole = Math.floor((bytes.length - at) / size) * size;
    if (whole > 0) {
      this.#apply(position, bytes.subarray(at, at + whole));
      at += whole;
    }
    if (at < bytes.length) {
      this.#carry.set(bytes.subarray(at), 0);
      this.#carryFill = bytes.length - at;
    }
  }

  end(): void {}

  #apply(byteOffset: number, bytes: Uint8Array): void {
    const size = this.dtype.size;
    let source = bytes;
    if (bytes.byteOffset % size !== 0) {
      if (this.#scratch === undefined || this.#scratch.length < bytes.length) {
        this.#scratch = new Uint8Array(Math.max(bytes.length, 1 << 16));
      }
      this.#scratch.set(bytes);
      source = this.#scratch.subarray(0, bytes.length);
    }
    const count = bytes.length / size;
    const Ctor = this.dtype.ctor;
    const d = new Ctor(this.#destBytes.buffer, this.#destBytes.byteOffset + byteOffset, count);
    const s = new Ctor(source.buffer, source.byteOffset, count);
    reduceInto(this.op, d, s);
  }
}
