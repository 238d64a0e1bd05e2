import { InvalidArgumentError } from "../../errors.ts";
import type { DTypeInfo } from "../dtype.ts";

/** How `allReduce`, `reduce` and `reduceScatter` combine the ranks' values. */
export type ReduceOp = "sum" | "prod" | "min" | "max" | "avg";

/** Wire and kernel codes of the reduce ops. `avg` reduces as `sum`, then divides. */
export const reduceOpCode: Readonly<Record<ReduceOp, number>> = {
  sum: 1,
  prod: 2,
  min: 3,
  max: 4,
  avg: 5,
};

/** Checks `op` (default "sum") for `dtype`; `avg` is only defined for floating-point dtypes. */
export function resolveReduceOp(op: unknown, dtype: DTypeInfo): ReduceOp {
  if (op === undefined) return "sum";
  if (typeof op !== "string" || !Object.hasOwn(reduceOpCode, op)) {
    throw new InvalidArgumentError(
      `Expected \`op\` to be one of sum, prod, min, max, avg, got ${JSON.stringify(op)}`,
    );
  }
  if (op === "avg" && !dtype.float) {
    throw new InvalidArgumentError(
      `Expected a floating-point tensor for \`op\` "avg", got ${dtype.name}`,
    );
  }
  return op as ReduceOp;
}
