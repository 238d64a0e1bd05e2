import type { TypedArray } from "../dtype.ts";

type Numeric = Exclude<TypedArray, BigInt64Array | BigUint64Array>;
type Big = BigInt64Array | BigUint64Array;

/**
 * `dst[i] = dst[i] op src[i]` in plain JavaScript: the fallback when the native addon is not
 * built. Integer results wrap like C's, because storing into a TypedArray wraps.
 */
export function jsReduce(op: number, dst: TypedArray, src: TypedArray): void {
  if (dst instanceof BigInt64Array || dst instanceof BigUint64Array) {
    reduceBig(op, dst, src as Big);
    return;
  }
  const d = dst as Numeric;
  const s = src as Numeric;
  const n = d.length;
  const int32 = d instanceof Int32Array || d instanceof Uint32Array;
  switch (op) {
    case 1:
    case 5:
      for (let i = 0; i < n; i++) d[i] = (d[i] as number) + (s[i] as number);
      return;
    case 2:
      if (int32) {
        for (let i = 0; i < n; i++) d[i] = Math.imul(d[i] as number, s[i] as number);
      } else {
        for (let i = 0; i < n; i++) d[i] = (d[i] as number) * (s[i] as number);
      }
      return;
    case 3:
      for (let i = 0; i < n; i++) if ((s[i] as number) < (d[i] as number)) d[i] = s[i] as number;
      return;
    case 4:
      for (let i = 0; i < n; i++) if ((s[i] as number) > (d[i] as number)) d[i] = s[i] as number;
      return;
  }
}

function reduceBig(op: number, d: Big, s: Big): void {
  const n = d.length;
  switch (op) {
    case 1:
      for (let i = 0; i < n; i++) d[i] = (d[i] as bigint) + (s[i] as bigint);
      return;
    case 2:
      for (let i = 0; i < n; i++) d[i] = (d[i] as bigint) * (s[i] as bigint);
      return;
    case 3:
      for (let i = 0; i < n; i++) if ((s[i] as bigint) < (d[i] as bigint)) d[i] = s[i] as bigint;
      return;
    case 4:
      for (let i = 0; i < n; i++) if ((s[i] as bigint) > (d[i] as bigint)) d[i] = s[i] as bigint;
      return;
  }
}

/** `dst[i] /= divisor` for floating-point arrays (the last step of `avg`). */
export function jsDivide(dst: Float32Array | Float64Array, divisor: number): void {
  for (let i = 0; i < dst.length; i++) dst[i] = (dst[i] as number) / divisor;
}
