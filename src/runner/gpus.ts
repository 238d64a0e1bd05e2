import { execFile } from "node:child_process";
import { InvalidArgumentError } from "../errors.ts";

/** Where a list of GPUs came from, for error messages. */
export interface DetectedGpus {
  readonly ids: readonly string[];
  readonly source: string;
}

/**
 * The GPUs this process may use: `CUDA_VISIBLE_DEVICES` when set (empty or "-1" means none),
 * else the devices `nvidia-smi -L` lists, else none.
 */
export async function detectGpus(env: NodeJS.ProcessEnv): Promise<DetectedGpus> {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    return { ids: parseVisibleDevices(visible), source: `CUDA_VISIBLE_DEVICES=${visible}` };
  }
  const listed = await nvidiaSmiList();
  return { ids: listed, source: listed.length > 0 ? "nvidia-smi -L" : "no GPU found" };
}

/** Parses `CUDA_VISIBLE_DEVICES`: ids (numbers, `GPU-…` UUIDs, `MIG-…`) up to the first invalid one, as CUDA does. */
export function parseVisibleDevices(value: string): string[] {
  const ids: string[] = [];
  for (const part of value.split(",")) {
    const id = part.trim();
    if (id === "" || id.startsWith("-")) break;
    ids.push(id);
  }
  return ids;
}

/** Parses `nvidia-smi -L` output ("GPU 0: NVIDIA H100 (UUID: GPU-…)") into ordinals. */
export function parseNvidiaSmiList(output: string): string[] {
  const ids: string[] = [];
  for (const line of output.split("\n")) {
    const match = /^GPU (\d+):/.exec(line.trim());
    if (match?.[1] !== undefined) ids.push(match[1]);
  }
  return ids;
}

function nvidiaSmiList(): Promise<string[]> {
  return new Promise((resolve) => {
    execFile("nvidia-smi", ["-L"], { timeout: 10_000 }, (error, stdout) => {
      resolve(error === null ? parseNvidiaSmiList(stdout) : []);
    });
  });
}

/** The GPU each rank gets, and whether to hide every GPU from them (CPU was asked for). */
export interface GpuAssignment {
  readonly ids: readonly string[];
  readonly hide: boolean;
}

/**
 * The runner's `gpus` option made concrete for `worldSize` ranks: the ids given (`[]` hides every
 * GPU), or with "auto" the first `worldSize` detected ones, or none (CPU) when none is found.
 * Throws INVALID_ARGUMENT when "auto" finds some GPUs but fewer than there are ranks.
 */
export async function assignGpus(
  gpus: readonly string[] | "auto",
  worldSize: number,
  env: NodeJS.ProcessEnv,
): Promise<GpuAssignment> {
  if (gpus !== "auto") return { ids: gpus, hide: gpus.length === 0 };
  const detected = await detectGpus(env);
  if (detected.ids.length === 0) return { ids: [], hide: false };
  if (detected.ids.length < worldSize) {
    throw new InvalidArgumentError(
      `Expected at least ${worldSize} GPUs for worldSize ${worldSize}, found ${detected.ids.length} (${detected.source}); pass gpus: [] to run on CPU`,
    );
  }
  return { ids: detected.ids.slice(0, worldSize), hide: false };
}
