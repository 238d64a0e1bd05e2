import { deserialize, serialize } from "node:v8";
import { OpCode } from "../engine/descriptor.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { AllocSink } from "../engine/sinks.ts";
import { optionsArgument, others, rankArgument } from "./arguments.ts";
import type { GatherOptions } from "./gather.ts";

/**
 * Collects a structured-clonable value of every rank on rank `dst`, in group-rank order (like
 * torch's `gather_object`). Resolves to the array on `dst`, `undefined` elsewhere.
 */
export function gatherObject<T>(group: GroupHandle, value: T, options?: GatherOptions) {
  const checked = optionsArgument(options, "gatherObject");
  const dst = rankArgument(checked.dst, "dst", group, 0);
  const payload = serialize(value);
  const desc = { op: OpCode.gatherObject, dtype: 0, count: -1, root: dst, reduceOp: 0 };
  return runCollective(group, desc, checked, async (ctx): Promise<T[] | undefined> => {
    if (group.index !== dst) {
      await ctx.send(group.info.ranks[dst] as number, payload, 0);
      return undefined;
    }
    const out: T[] = [];
    out[group.index] = deserialize(payload) as T;
    await Promise.all(
      others(group).map(async ([index, from]) => {
        const sink = new AllocSink();
        await ctx.recv(from, sink);
        out[index] = deserialize(sink.bytes) as T;
      }),
    );
    return out;
  });
}
