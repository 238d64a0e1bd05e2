import { InvalidArgumentError } from "../errors.ts";
import type { GroupInfo } from "./engine/group-info.ts";

/**
 * The identity of a new subgroup. Members agree on its wire id without talking: it hashes the
 * member list and how many groups of those members this rank created before.
 */
export function subgroupInfo(
  ranks: readonly number[],
  worldSize: number,
  counts: Map<string, number>,
): GroupInfo {
  if (!Array.isArray(ranks) || ranks.length === 0) {
    throw new InvalidArgumentError(
      `Expected \`ranks\` to be a non-empty array of ranks, got ${JSON.stringify(ranks)}`,
    );
  }
  for (const rank of ranks) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
      throw new InvalidArgumentError(
        `Expected every rank of \`ranks\` to be an integer in 0..${worldSize - 1}, got ${rank}`,
      );
    }
  }
  const sorted = [...new Set(ranks)].sort((a, b) => a - b);
  if (sorted.length !== ranks.length) {
    throw new InvalidArgumentError(
      `Expected \`ranks\` to hold distinct ranks, got ${JSON.stringify(ranks)}`,
    );
  }
  const list = sorted.join(",");
  const count = counts.get(list) ?? 0;
  counts.set(list, count + 1);
  return {
    id: fnv1a(`${list}#${count}`) || 1,
    name: `group [${sorted.join(", ")}]`,
    ranks: sorted,
  };
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
