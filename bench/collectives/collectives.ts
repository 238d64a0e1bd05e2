import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../free-port.ts";
import type { Measurement } from "./figures.ts";

export interface CollectivesRow {
  readonly figure: string;
  /** troupe's p50. */
  readonly troupe: string;
  /** torch.distributed (gloo)'s p50 on the same machine, when torch is installed. */
  readonly peer?: string;
  /** How many times faster troupe is than the peer. */
  readonly ratio?: string;
  readonly target: string;
}

const targets: Record<string, number> = {
  barrier: 0.05,
  "allReduce sum, 1 MiB": 0.5,
  "allReduce sum, 64 MiB": 20,
  "gather to rank 0, 64 MiB per rank": 30,
  "broadcast, 64 MiB": 10,
};

const rankScript = fileURLToPath(new URL("./rank.ts", import.meta.url));
const torchScript = fileURLToPath(new URL("./torch_collectives.py", import.meta.url));

/**
 * Runs the five collective figures with two real rank processes, and the same operations with
 * torch.distributed (gloo) when a Python with torch is found (`TROUPE_BENCH_PYTHON`, `python3`,
 * `/usr/bin/python3`). Timings are p50 over many iterations, float32.
 */
export async function benchCollectives(): Promise<CollectivesRow[]> {
  const troupe = await runRanks(process.execPath, ["--import", "tsx", rankScript]);
  const python = findTorchPython();
  const peer = python === undefined ? undefined : await runRanks(python, [torchScript]);
  return troupe.map((m) => {
    const other = peer?.find((p) => p.name === m.name);
    return {
      figure: m.name,
      troupe: format(m.p50),
      ...(other ? { peer: format(other.p50), ratio: `${(other.p50 / m.p50).toFixed(1)}×` } : {}),
      target: targets[m.name] === undefined ? "-" : `<= ${format(targets[m.name] as number)}`,
    };
  });
}

function format(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

function findTorchPython(): string | undefined {
  const candidates = [process.env.TROUPE_BENCH_PYTHON, "python3", "/usr/bin/python3"];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === "") continue;
    const probe = spawnSync(candidate, ["-c", "import torch.distributed"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

async function runRanks(command: string, args: string[]): Promise<Measurement[]> {
  const port = await freePort();
  const children = [0, 1].map((rank) =>
    spawn(command, args, {
      env: {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: "2",
        LOCAL_RANK: String(rank),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
      },
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  let output = "";
  children[0]?.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const codes = await Promise.all(
    children.map((child) => new Promise<number | null>((resolve) => child.on("exit", resolve))),
  );
  if (codes.some((code) => code !== 0)) {
    throw new Error(`${command} ${args.join(" ")} exited with ${codes.join(", ")}`);
  }
  const line = output.trim().split("\n").at(-1) ?? "[]";
  return JSON.parse(line) as Measurement[];
}
