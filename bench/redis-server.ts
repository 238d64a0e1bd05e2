/**
 * A redis-server for the queue benchmarks: Debian's, on a free TCP port of 127.0.0.1, without
 * persistence, its folder a temporary one removed on `stop()`. (test/fixtures/redis-server.ts is
 * the tests' own, with kill and restart; the benchmarks import nothing from test/.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

export class BenchRedis {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts one; resolves once it accepts connections. */
  static async start(): Promise<BenchRedis> {
    const dir = await mkdtemp(join(tmpdir(), "troupe-bench-redis-"));
    const port = await freePort();
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        output += chunk;
        if (output.includes("Ready to accept connections")) resolve();
      });
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(
          new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`),
        ),
      );
    });
    return new BenchRedis(port, dir, child);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
