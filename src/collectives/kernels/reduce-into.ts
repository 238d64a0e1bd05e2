import type { TypedArray } from "../dtype.ts";
import { nativeAddon } from "../native-addon.ts";
import { jsDivide, jsReduce } from "./js-kernels.ts";

/** `dst[i] = dst[i] op src[i]` with the fastest kernel available. */
export function reduceInto(op: number, dst: TypedArray, src: TypedArray): void {
  const native = nativeAddon();
  if (native !== undefined) native.reduce(op, dst, src);
  else jsReduce(op, dst, src);
}

/** `dst[i] /= divisor` with the fastest kernel available. */
export function divideBy(dst: Float32Array | Float64Array, divisor: number): void {
  const native = nativeAddon();
  if (native !== undefined) native.divide(dst, divisor);
  else jsDivide(dst, divisor);
}
