import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { optionsArgument } from "./arguments.ts";

/** Waits until every rank of the group called `barrier`. */
export function barrier(group: GroupHandle, options?: OperationOptions): Promise<void> {
  const checked = optionsArgument(options, "barrier");
  return runCollective(
    group,
    { op: OpCode.barrier, dtype: 0, count: -1, root: -1, reduceOp: 0 },
    checked,
    async () => {},
  );
}
