import type { TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { CopySink, ReduceSink } from "../engine/sinks.ts";
import { divideBy } from "../kernels/reduce-into.ts";
import { type ReduceOp, reduceOpCode, resolveReduceOp } from "../kernels/reduce-op.ts";
import { bytes, optionsArgument, others, partRange, tensorArgument } from "./arguments.ts";

/** Options of `allReduce` and `reduceScatter`. */
export interface AllReduceOptions extends OperationOptions {
  /**
   * How values combine.
   * @default "sum"
   */
  readonly op?: ReduceOp;
}

/**
 * Combines `tensor` across the group, in place, on every rank. Each rank reduces one part of the
 * tensor (the others send it that part), then sends its reduced part to all: every rank moves
 * about twice the tensor's size whatever the group's size.
 */
export function allReduce(
  group: GroupHandle,
  tensor: TypedArray,
  options?: AllReduceOptions,
): Promise<void> {
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, "allReduce");
  const op = resolveReduceOp(checked.op, dtype);
  const code = reduceOpCode[op];
  const desc = {
    op: OpCode.allReduce,
    dtype: dtype.code,
    count: tensor.length,
    root: -1,
    reduceOp: code,
  };
  const size = group.info.ranks.length;
  const part = (index: number) => tensor.subarray(...partRange(tensor.length, size, index));
  return runCollective(group, desc, checked, async (ctx) => {
    const peers = others(group);
    const mine = part(group.index);
    const gathered = peers.map(([index, from]) =>
      ctx.recv(from, new CopySink(bytes(part(index)), dtype), 1),
    );
    for (const wait of gathered) wait.catch(() => {});
    await Promise.all([
      ...peers.map(([index, to]) => ctx.send(to, bytes(part(index)), dtype.code)),
      ...peers.map(([, from]) => ctx.recv(from, new ReduceSink(mine, dtype, code))),
    ]);
    if (op === "avg") divideBy(mine as Float32Array | Float64Array, size);
    await Promise.all([
      ...peers.map(([, to]) => ctx.send(to, bytes(mine), dtype.code, 1)),
      ...gathered,
    ]);
  });
}
