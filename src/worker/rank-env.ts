/** The identity of this process as a rank, read from torchrun's environment contract. */
export interface RankIdentity {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly device: string;
}

export function rankIdentityFromEnv(env: NodeJS.ProcessEnv = process.env): RankIdentity {
  const rank = intVar(env, "RANK", 0);
  const worldSize = intVar(env, "WORLD_SIZE", 1);
  const localRank = intVar(env, "LOCAL_RANK", rank);
  const device = env.TROUPE_DEVICE ?? "cpu";
  return { rank, worldSize, localRank, device };
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(
      `Expected \`${name}\` to be a non-negative integer, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
