import { InvalidArgumentError } from "../../errors.ts";
import type { TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { GroupInfo, OperationOptions } from "../engine/group-info.ts";
import type { GroupHandle } from "../engine/run-collective.ts";
import { optionsArgument, rankArgument, tensorArgument } from "./arguments.ts";

/** Tags of point-to-point data and its receipt; collectives use small tags, so keys never meet. */
export const P2P_TAG = 0x7fff_0000;
export const P2P_ACK_TAG = P2P_TAG + 1;

/** The two ranks of a send/recv pair, as a group for timeout and exit reporting. */
function pairOf(group: GroupHandle, peer: number): GroupInfo {
  return {
    id: group.info.id,
    name: group.info.name,
    ranks: [group.comm.rank, group.info.ranks[peer] as number],
  };
}

/**
 * What `send` and `recv` share: checks the arguments (the peer under `peerKey` must be another
 * rank), and starts the operation on the pair, sequenced per direction and peer.
 */
export function startPointToPoint(
  group: GroupHandle,
  tensor: TypedArray,
  options: (OperationOptions & { readonly dst?: number; readonly src?: number }) | undefined,
  op: "send" | "recv",
) {
  const peerKey = op === "send" ? "dst" : "src";
  const dtype = tensorArgument(tensor, "tensor");
  const checked = optionsArgument(options, op);
  const peer = rankArgument(checked?.[peerKey], peerKey, group);
  if (peer === group.index) {
    throw new InvalidArgumentError(
      `Expected \`${peerKey}\` to be another rank than this one, got ${peer}`,
    );
  }
  const global = group.info.ranks[peer] as number;
  const desc = {
    op: op === "send" ? OpCode.send : OpCode.recv,
    dtype: dtype.code,
    count: tensor.length,
    root: peer,
    reduceOp: 0,
  };
  const { ctx, done } = group.comm.startOp(
    pairOf(group, peer),
    desc,
    checked,
    group.timeout,
    `${op === "send" ? "s" : "r"}:${group.info.id}:${global}`,
  );
  return { dtype, peer: global, ctx, done };
}
