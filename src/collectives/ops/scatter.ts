import { InvalidArgumentError } from "../../errors.ts";
import { describe, dtypeByCode, type TypedArray, viewAs } from "../dtype.ts";
import { OpCode } from "../engine/descriptor.ts";
import type { OperationOptions } from "../engine/group-info.ts";
import { type GroupHandle, runCollective } from "../engine/run-collective.ts";
import { AllocSink } from "../engine/sinks.ts";
import { bytes, optionsArgument, others, rankArgument, tensorArgument } from "./arguments.ts";

/** Options of `scatter`. */
export interface ScatterOptions extends OperationOptions {
  /**
   * The group rank that holds the chunks.
   * @default 0
   */
  readonly src?: number;
}

/**
 * Hands chunk `i` of rank `src` to group rank `i`. Only `src` passes `chunks` (one TypedArray per
 * rank, all of one dtype and length); every rank resolves to a new array holding its chunk.
 */
export function scatter<T extends TypedArray>(
  group: GroupHandle,
  chunks: readonly T[] | undefined,
  options?: ScatterOptions,
): Promise<T> {
  const checked = optionsArgument(options, "scatter");
  const src = rankArgument(checked.src, "src", group, 0);
  const size = group.info.ranks.length;
  let dtypeCode = 0;
  let count = -1;
  if (group.index === src) {
    if (!Array.isArray(chunks) || chunks.length !== size) {
      throw new InvalidArgumentError(
        `Expected \`chunks\` on the source rank to be an array of ${size} TypedArrays, got ${Array.isArray(chunks) ? `${chunks.length} items` : describe(chunks)}`,
      );
    }
    const first = tensorArgument(chunks[0], "chunks[0]");
    chunks.forEach((chunk, i) => {
      if (tensorArgument(chunk, `chunks[${i}]`) !== first || chunk.length !== chunks[0]?.length) {
        throw new InvalidArgumentError(
          `Expected every chunk to be ${first.name}[${chunks[0]?.length}], got ${tensorArgument(chunk, "chunk").name}[${chunk.length}] at chunks[${i}]`,
        );
      }
    });
    dtypeCode = first.code;
    count = chunks[0]?.length ?? 0;
  }
  const desc = { op: OpCode.scatter, dtype: dtypeCode, count, root: src, reduceOp: 0 };
  return runCollective(group, desc, checked, async (ctx) => {
    if (group.index === src && chunks !== undefined) {
      const list = chunks;
      await Promise.all(
        others(group).map(([index, to]) => ctx.send(to, bytes(list[index] as T), dtypeCode)),
      );
      return (list[src] as T).slice() as T;
    }
    const sink = new AllocSink();
    await ctx.recv(group.info.ranks[src] as number, sink);
    const dtype = dtypeByCode(sink.dtype);
    if (dtype === undefined) throw new InvalidArgumentError(`Unknown dtype code ${sink.dtype}`);
    return viewAs(dtype, sink.bytes) as T;
  });
}
