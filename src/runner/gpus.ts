import { execFile } from "node:child_process";

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
