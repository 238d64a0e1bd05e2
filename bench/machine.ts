import { readFile } from "node:fs/promises";
import os from "node:os";

/** What the numbers were measured on. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages when the run began: other work skews the figures. */
  readonly loadAverage: readonly number[];
}

export async function describeMachine(): Promise<Machine> {
  return {
    cpu: (await cpuModel()) ?? os.cpus()[0]?.model ?? "unknown",
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    os: `${(await prettyName()) ?? os.type()} (${os.type()} ${os.release()}, ${os.arch()})`,
    node: process.version,
    loadAverage: os.loadavg(),
  };
}

async function cpuModel(): Promise<string | undefined> {
  const info = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim();
}

async function prettyName(): Promise<string | undefined> {
  const release = await readFile("/etc/os-release", "utf8").catch(() => "");
  return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(release)?.[1];
}
