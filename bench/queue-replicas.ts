/**
 * The queue benchmarks' replicas: processes of bench/queue-app.ts, started, stopped and killed by
 * the bench, and what /proc tells of them and of other processes (CPU time, RSS, a rank's pid).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { cpuMsOf } from "./examples.ts";
import type { ReplicaOptions } from "./queue-app.ts";

const tsx = createRequire(import.meta.url).resolve("tsx");

/** A replica's process, and where it serves. */
export interface Replica {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
}

/** Starts a replica process (bench/queue-app.ts); resolves once it serves. */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsx,
      fileURLToPath(new URL("./queue-app.ts", import.meta.url)),
      JSON.stringify(options),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("\n")) resolve(output.slice(0, output.indexOf("\n")));
    });
    child.once("exit", (code) => reject(new Error(`A replica exited (${code}) before it served`)));
  });
  const { url, pid } = JSON.parse(line) as { url: string; pid: number };
  return { url, pid, child };
}

/** SIGTERM: the replica stops its runner and exits. */
export async function stopReplica(replica: Replica): Promise<void> {
  if (!isAlive(replica)) return;
  replica.child.kill("SIGTERM");
  await exited(replica);
}

export function isAlive({ child }: Replica): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves once the replica's process has exited. */
export async function exited(replica: Replica): Promise<void> {
  if (isAlive(replica)) await once(replica.child, "exit");
}

/** The replicas whose process still runs. */
export function alive(replicas: readonly Replica[]): Replica[] {
  return replicas.filter(isAlive);
}

/** The first child of a replica: its runner's rank (world size 1). */
export function rankOf(replica: Replica): number {
  const children = readFileSync(`/proc/${replica.pid}/task/${replica.pid}/children`, "utf8");
  return Number(children.trim().split(" ")[0]);
}

/** CPU time (ms) of each process, and of this one as `client`. */
export async function cpuOf(
  pids: Readonly<Record<string, number>>,
): Promise<Record<string, number>> {
  const entries = await Promise.all(
    Object.entries(pids).map(async ([role, pid]) => [role, await cpuMsOf(pid)] as const),
  );
  const { user, system } = process.cpuUsage();
  return { ...Object.fromEntries(entries), client: (user + system) / 1000 };
}

/** Each role's CPU time between two readings. */
export function since(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([role, ms]) => [role, ms - (before[role] ?? 0)]),
  );
}

/** A process's resident memory, in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}
