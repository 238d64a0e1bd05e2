import { InvalidArgumentError } from "../../errors.ts";
import { type DTypeInfo, describe, dtypeOf, type TypedArray } from "../dtype.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import type { GroupHandle } from "../engine/run-collective.ts";

/** Checks that `value` is a TypedArray and returns its dtype. */
export function tensorArgument(value: unknown, name: string): DTypeInfo {
  return dtypeOf(value, name);
}

/** Checks an options object (or `undefined`) and its `timeout` and `signal`. */
export function optionsArgument<T extends OperationOptions>(value: T | undefined, op: string): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object") {
    throw new InvalidArgumentError(
      `Expected the options of \`${op}\` to be an object, got ${describe(value)}`,
    );
  }
  if (value.timeout !== undefined && !(typeof value.timeout === "number" && value.timeout > 0)) {
    throw new InvalidArgumentError(
      `Expected \`timeout\` to be a positive number of milliseconds, got ${describe(value.timeout)}`,
    );
  }
  if (value.signal !== undefined && !(value.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(
      `Expected \`signal\` to be an AbortSignal, got ${describe(value.signal)}`,
    );
  }
  return value;
}

/** Checks a rank within the group (`src`, `dst`); `fallback` applies when it is undefined. */
export function rankArgument(
  value: unknown,
  name: string,
  group: GroupHandle,
  fallback?: number,
): number {
  const rank = value ?? fallback;
  const size = group.info.ranks.length;
  if (typeof rank !== "number" || !Number.isInteger(rank) || rank < 0 || rank >= size) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a rank of ${group.info.name} (an integer in 0..${size - 1}), got ${describe(value)}`,
    );
  }
  return rank;
}

/** The byte view of `view`, for the wire. */
export function bytes(view: TypedArray): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** The element range of part `index` when `length` elements are split into `parts` parts. */
export function partRange(length: number, parts: number, index: number): [number, number] {
  const base = Math.floor(length / parts);
  const extra = length % parts;
  const start = index * base + Math.min(index, extra);
  return [start, start + base + (index < extra ? 1 : 0)];
}

/** Global ranks of the group other than this one, with their group ranks. */
export function others(group: GroupHandle): Array<[groupRank: number, globalRank: number]> {
  const out: Array<[number, number]> = [];
  group.info.ranks.forEach((global, index) => {
    if (index !== group.index) out.push([index, global]);
  });
  return out;
}
