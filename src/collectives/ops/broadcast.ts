import type { TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { CopySink } from "../engine/sinks.ts";
import { bytes, optionsArgument, others, rankArgument, tensorArgument } from "./arguments.ts";

/** Options of `broadcast`. */
export interface BroadcastOptions extends OperationOptions {
  /**
   * The group rank whose tensor every other rank receives.
   * @default 0
   */
  readonly src?: number;
}

/** Copies `tensor` of rank `src` into `tensor` of every other rank, in place. */
export function broadcast(
  group: GroupHandle,
  tensor: TypedArray,
  options?: BroadcastOptions,
): Promise<void> {
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, "broadcast");
  const src = rankArgument(checked.src, "src", group, 0);
  const desc = {
    op: OpCode.broadcast,
    dtype: dtype.code,
    count: tensor.length,
    root: src,
    reduceOp: 0,
  };
  return runCollective(group, desc, checked, async (ctx) => {
    if (group.index === src) {
      await Promise.all(others(group).map(([, to]) => ctx.send(to, bytes(tensor), dtype.code)));
    } else {
      await ctx.recv(group.info.ranks[src] as number, new CopySink(bytes(tensor), dtype));
    }
  });
}
