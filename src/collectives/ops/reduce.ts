import type { TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { ReduceSink } from "../engine/sinks.ts";
import { divideBy } from "../kernels/reduce-into.ts";
import { type ReduceOp, reduceOpCode, resolveReduceOp } from "../kernels/reduce-op.ts";
import { bytes, optionsArgument, others, rankArgument, tensorArgument } from "./arguments.ts";

/** Options of `reduce`. */
export interface ReduceOptions extends OperationOptions {
  /**
   * The group rank that receives the result.
   * @default 0
   */
  readonly dst?: number;
  /**
   * How values combine.
   * @default "sum"
   */
  readonly op?: ReduceOp;
}

/** Combines `tensor` across the group into `tensor` of rank `dst`; other ranks' stay as they were. */
export function reduce(group: GroupHandle, tensor: TypedArray, options?: ReduceOptions) {
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, "reduce");
  const dst = rankArgument(checked.dst, "dst", group, 0);
  const op = resolveReduceOp(checked.op, dtype);
  const code = reduceOpCode[op];
  const desc = {
    op: OpCode.reduce,
    dtype: dtype.code,
    count: tensor.length,
    root: dst,
    reduceOp: code,
  };
  return runCollective(group, desc, checked, async (ctx): Promise<void> => {
    if (group.index !== dst) {
      await ctx.send(group.info.ranks[dst] as number, bytes(tensor), dtype.code);
      return;
    }
    await Promise.all(
      others(group).map(([, from]) => ctx.recv(from, new ReduceSink(tensor, dtype, code))),
    );
    if (op === "avg") divideBy(tensor as Float32Array | Float64Array, group.info.ranks.length);
  });
}
