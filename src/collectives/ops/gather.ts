import { InvalidArgumentError } from "../../errors.ts";
import { allocate, type DTypeInfo, describe, dtypeOf, type TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { CopySink } from "../engine/sinks.ts";
import { bytes, optionsArgument, others, rankArgument, tensorArgument } from "./arguments.ts";

/** Options of `gather` and `gatherObject`. */
export interface GatherOptions extends OperationOptions {
  /**
   * The group rank that receives every rank's value.
   * @default 0
   */
  readonly dst?: number;
  /**
   * Arrays to receive into on `dst`, one per rank, of the tensor's dtype and length (like torch's
   * `gather_list`); saves allocating new ones. Ignored on other ranks.
   * @default new arrays
   */
  readonly out?: readonly TypedArray[];
}

/**
 * Collects `tensor` of every rank on rank `dst`, in group-rank order. Every rank must pass the same
 * dtype and length. Resolves to new arrays on `dst` and to `undefined` elsewhere.
 */
export function gather<T extends TypedArray>(
  group: GroupHandle,
  tensor: T,
  options?: GatherOptions,
): Promise<T[] | undefined> {
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, "gather");
  const dst = rankArgument(checked.dst, "dst", group, 0);
  if (checked.out !== undefined && group.index === dst) {
    checkOut(checked.out, dtype, tensor.length, group);
  }
  const desc = {
    op: OpCode.gather,
    dtype: dtype.code,
    count: tensor.length,
    root: dst,
    reduceOp: 0,
  };
  return runCollective(group, desc, checked, async (ctx) => {
    if (group.index !== dst) {
      await ctx.send(group.info.ranks[dst] as number, bytes(tensor), dtype.code);
      return undefined;
    }
    const parts = (checked.out ??
      group.info.ranks.map(() => allocate(dtype, tensor.length))) as T[];
    const own = parts[group.index] as T;
    if (own.buffer !== tensor.buffer || own.byteOffset !== tensor.byteOffset)
      own.set(tensor as never);
    await Promise.all(
      others(group).map(([index, from]) =>
        ctx.recv(from, new CopySink(bytes(parts[index] as T), dtype)),
      ),
    );
    return parts;
  });
}

function checkOut(
  out: readonly TypedArray[],
  dtype: DTypeInfo,
  length: number,
  group: GroupHandle,
) {
  const size = group.info.ranks.length;
  if (!Array.isArray(out) || out.length !== size) {
    throw new InvalidArgumentError(
      `Expected \`out\` to be an array of ${size} TypedArrays, got ${Array.isArray(out) ? `${out.length} items` : describe(out)}`,
    );
  }
  out.forEach((array, i) => {
    if (dtypeOf(array, `out[${i}]`) !== dtype || array.length !== length) {
      throw new InvalidArgumentError(
        `Expected \`out[${i}]\` to be ${dtype.name}[${length}], got ${dtypeOf(array, "out").name}[${array.length}]`,
      );
    }
  });
}
