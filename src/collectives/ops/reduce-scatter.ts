import { InvalidArgumentError } from "../../errors.ts";
import type { TypedArray } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { ReduceSink } from "../engine/sinks.ts";
import { divideBy } from "../kernels/reduce-into.ts";
import { reduceOpCode, resolveReduceOp } from "../kernels/reduce-op.ts";
import type { AllReduceOptions } from "./all-reduce.ts";
import { bytes, optionsArgument, others, tensorArgument } from "./arguments.ts";

/**
 * Combines `input` across the group and leaves part `r` of the result in `output` of group rank
 * `r`. `input` holds `size × output.length` elements of the same dtype as `output`.
 */
export function reduceScatter(
  group: GroupHandle,
  output: TypedArray,
  input: TypedArray,
  options?: AllReduceOptions,
): Promise<void> {
  const dtype = tensorArgument(output, "output");
  const inputType = tensorArgument(input, "input");
  const size = group.info.ranks.length;
  if (inputType !== dtype || input.length !== output.length * size) {
    throw new InvalidArgumentError(
      `Expected \`input\` to be ${dtype.name}[${output.length * size}] (${size} × output), got ${inputType.name}[${input.length}]`,
    );
  }
  const checked = optionsArgument(options, "reduceScatter");
  const op = resolveReduceOp(checked.op, dtype);
  const code = reduceOpCode[op];
  const desc = {
    op: OpCode.reduceScatter,
    dtype: dtype.code,
    count: output.length,
    root: -1,
    reduceOp: code,
  };
  const part = (index: number) =>
    input.subarray(index * output.length, (index + 1) * output.length);
  return runCollective(group, desc, checked, async (ctx) => {
    output.set(part(group.index) as never);
    const peers = others(group);
    await Promise.all([
      ...peers.map(([index, to]) => ctx.send(to, bytes(part(index)), dtype.code)),
      ...peers.map(([, from]) => ctx.recv(from, new ReduceSink(output, dtype, code))),
    ]);
    if (op === "avg") divideBy(output as Float32Array | Float64Array, size);
  });
}
