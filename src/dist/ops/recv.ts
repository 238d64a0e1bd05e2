import { InvalidArgumentError } from "../../errors.ts";
import type { TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import type { GroupHandle } from "../engine/run-collective.ts";
import { CopySink } from "../engine/sinks.ts";
import { CollectiveMismatchError } from "../errors.ts";
import { bytes, optionsArgument, rankArgument, tensorArgument } from "./arguments.ts";
import { P2P_ACK_TAG, P2P_TAG, pairOf } from "./point-to-point.ts";

/** Options of `recv`. */
export interface RecvOptions extends OperationOptions {
  /** The group rank to receive from. */
  readonly src: number;
}

/** Receives into `tensor`, in place, what rank `src` sends with `send({ dst })`. */
export async function recv(group: GroupHandle, tensor: TypedArray, options: RecvOptions) {
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, "recv");
  const src = rankArgument(checked?.src, "src", group);
  if (src === group.index)
    throw new InvalidArgumentError(`Expected \`src\` to be another rank than this one, got ${src}`);
  const from = group.info.ranks[src] as number;
  const desc = { op: OpCode.recv, dtype: dtype.code, count: tensor.length, root: src, reduceOp: 0 };
  const { ctx, done } = group.comm.startOp(
    pairOf(group, src),
    desc,
    checked,
    group.timeout,
    `r:${group.info.id}:${from}`,
  );
  try {
    try {
      await ctx.recv(from, new CopySink(bytes(tensor), dtype), P2P_TAG);
    } catch (error) {
      if (error instanceof CollectiveMismatchError) {
        const text = `it expected ${dtype.name}[${tensor.length}]: ${error.message}`;
        await ctx.send(from, Buffer.from(text, "utf8"), 0, P2P_ACK_TAG);
        throw new CollectiveMismatchError(
          `Rank ${group.comm.rank} expected ${dtype.name}[${tensor.length}] from rank ${from}: ${error.message}`,
          {
            rank: group.comm.rank,
            cause: error,
            details: { expected: `${dtype.name}[${tensor.length}]` },
          },
        );
      }
      throw error;
    }
    await ctx.send(from, new Uint8Array(0), 0, P2P_ACK_TAG);
  } catch (error) {
    throw ctx.error ?? error;
  } finally {
    done();
  }
}
