import { createRequire } from "node:module";
import type { TypedArray } from "./dtype.ts";

/** The functions of the optional `native/` addon (POSIX shared memory and reduce kernels). */
export interface NativeAddon {
  reduce(op: number, dst: TypedArray, src: TypedArray): void;
  divide(dst: Float32Array | Float64Array, divisor: number): void;
  shmCreate(name: string, bytes: number): ArrayBuffer;
  shmOpen(name: string, bytes: number): ArrayBuffer;
  shmUnlink(name: string): void;
}

let loaded: NativeAddon | null | undefined;

/**
 * The native addon, or `undefined` where it is not built or `TROUPE_NO_NATIVE=1` turns it off.
 * Without it, local ranks talk over Unix sockets and reductions run in JavaScript.
 */
export function nativeAddon(): NativeAddon | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  const off = process.env.TROUPE_NO_NATIVE;
  if (off !== undefined && off !== "" && off !== "0") return undefined;
  try {
    const require = createRequire(import.meta.url);
    loaded = require("../../native/build/Release/troupe_native.node") as NativeAddon;
  } catch {
    loaded = null;
  }
  return loaded ?? undefined;
}
