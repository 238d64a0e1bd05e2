import type { TypedArray } from "../dtype.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import type { GroupHandle } from "../engine/run-collective.ts";
import { AllocSink } from "../engine/sinks.ts";
import { CollectiveMismatchError } from "../errors.ts";
import { bytes } from "./arguments.ts";
import { P2P_ACK_TAG, P2P_TAG, startPointToPoint } from "./point-to-point.ts";

/** Options of `send`. */
export interface SendOptions extends OperationOptions {
  /** The group rank to send to. */
  readonly dst: number;
}

/**
 * Sends `tensor` to rank `dst`, which receives it with `recv({ src })`. The k-th send to a rank
 * meets that rank's k-th recv from this one. Resolves once the receiver has it; rejects with
 * `COLLECTIVE_MISMATCH` if the receiver expected another size or dtype.
 */
export async function send(group: GroupHandle, tensor: TypedArray, options: SendOptions) {
  const { dtype, peer: to, ctx, done } = startPointToPoint(group, tensor, options, "send");
  try {
    const ack = new AllocSink();
    const receipt = ctx.recv(to, ack, P2P_ACK_TAG);
    receipt.catch(() => {});
    await ctx.send(to, bytes(tensor), dtype.code, P2P_TAG);
    await receipt;
    if (ack.bytes.byteLength > 0) {
      const reason = Buffer.from(ack.bytes).toString("utf8");
      throw new CollectiveMismatchError(
        `Rank ${group.comm.rank} sent ${dtype.name}[${tensor.length}] to rank ${to}, which refused it: ${reason}`,
        { rank: group.comm.rank, details: { sent: `${dtype.name}[${tensor.length}]`, reason } },
      );
    }
  } catch (error) {
    throw ctx.error ?? error;
  } finally {
    done();
  }
}
