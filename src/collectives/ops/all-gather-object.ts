import { deserialize, serialize } from "node:v8";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { AllocSink } from "../engine/sinks.ts";
import { optionsArgument, others } from "./arguments.ts";

/** Collects a structured-clonable value of every rank on every rank, in group-rank order. */
export function allGatherObject<T>(group: GroupHandle, value: T, options?: OperationOptions) {
  const checked = optionsArgument(options, "allGatherObject");
  const payload = serialize(value);
  const desc = { op: OpCode.allGatherObject, dtype: 0, count: -1, root: -1, reduceOp: 0 };
  return runCollective(group, desc, checked, async (ctx): Promise<T[]> => {
    const out: T[] = [];
    out[group.index] = deserialize(payload) as T;
    const peers = others(group);
    await Promise.all([
      ...peers.map(([, to]) => ctx.send(to, payload, 0)),
      ...peers.map(async ([index, from]) => {
        const sink = new AllocSink();
        await ctx.recv(from, sink);
        out[index] = deserialize(sink.bytes) as T;
      }),
    ]);
    return out;
  });
}
