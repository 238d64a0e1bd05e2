import type { TypedArray } from "../dtype.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import type { GroupHandle } from "../engine/run-collective.ts";
import { CopySink } from "../engine/sinks.ts";
import { CollectiveMismatchError } from "../errors.ts";
import { bytes } from "./arguments.ts";
import { P2P_ACK_TAG, P2P_TAG, startPointToPoint } from "./point-to-point.ts";

/** Options of `recv`. */
export interface RecvOptions extends OperationOptions {
  /** The group rank to receive from. */
  readonly src: number;
}

/** Receives into `tensor`, in place, what rank `src` sends with `send({ dst })`. */
export async function recv(group: GroupHandle, tensor: TypedArray, options: RecvOptions) {
  const { dtype, peer: from, ctx, done } = startPointToPoint(group, tensor, options, "recv");
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
