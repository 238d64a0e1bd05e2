import type { GroupInfo } from "../engine/group-info.ts";
import type { GroupHandle } from "../engine/run-collective.ts";

/** Tags of point-to-point data and its receipt; collectives use small tags, so keys never meet. */
export const P2P_TAG = 0x7fff_0000;
export const P2P_ACK_TAG = P2P_TAG + 1;

/** The two ranks of a send/recv pair, as a group for timeout and exit reporting. */
export function pairOf(group: GroupHandle, peer: number): GroupInfo {
  return {
    id: group.info.id,
    name: group.info.name,
    ranks: [group.comm.rank, group.info.ranks[peer] as number],
  };
}
