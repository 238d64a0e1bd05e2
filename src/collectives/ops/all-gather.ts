import { allocate, type TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { CopySink } from "../engine/sinks.ts";
import { bytes, optionsArgument, others, tensorArgument } from "./arguments.ts";

/** Collects `tensor` of every rank on every rank, in group-rank order, as new arrays. */
export function allGather<T extends TypedArray>(
  group: GroupHandle,
  tensor: T,
  options?: OperationOptions,
): Promise<T[]> {
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, "allGather");
  const desc = {
    op: OpCode.allGather,
    dtype: dtype.code,
    count: tensor.length,
    root: -1,
    reduceOp: 0,
  };
  return runCollective(group, desc, checked, async (ctx) => {
    const parts = group.info.ranks.map((_, index) =>
      index === group.index ? tensor.slice() : allocate(dtype, tensor.length),
    ) as T[];
    const peers = others(group);
    await Promise.all([
      ...peers.map(([, to]) => ctx.send(to, bytes(tensor), dtype.code)),
      ...peers.map(([index, from]) =>
        ctx.recv(from, new CopySink(bytes(parts[index] as T), dtype)),
      ),
    ]);
    return parts;
  });
}
