import { deserialize, serialize } from "node:v8";
import { OpCode } from "../engine/descriptor.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { AllocSink } from "../engine/sinks.ts";
import { optionsArgument, others, rankArgument } from "./arguments.ts";
import type { BroadcastOptions } from "./broadcast.ts";

/**
 * Sends a structured-clonable value from rank `src` to every rank; every rank resolves to its own
 * copy. Other ranks' `value` is ignored (pass `undefined`).
 */
export function broadcastObject<T>(group: GroupHandle, value: T, options?: BroadcastOptions) {
  const checked = optionsArgument(options, "broadcastObject");
  const src = rankArgument(checked.src, "src", group, 0);
  const payload = group.index === src ? serialize(value) : undefined;
  const desc = { op: OpCode.broadcastObject, dtype: 0, count: -1, root: src, reduceOp: 0 };
  return runCollective(group, desc, checked, async (ctx): Promise<T> => {
    if (payload !== undefined) {
      await Promise.all(others(group).map(([, to]) => ctx.send(to, payload, 0)));
      return deserialize(payload) as T;
    }
    const sink = new AllocSink();
    await ctx.recv(group.info.ranks[src] as number, sink);
    return deserialize(sink.bytes) as T;
  });
}
