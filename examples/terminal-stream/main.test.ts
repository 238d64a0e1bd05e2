import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the terminal-stream example", () => {
  it("prints every step's progress in order, then the final result", async () => {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ["--import", tsx, fileURLToPath(new URL("./main.ts", import.meta.url))],
        { env: { ...process.env, CUDA_VISIBLE_DEVICES: "", TROUPE_LOG_LEVEL: "warn" } },
        (error, out) => (error === null ? resolve(out) : reject(error)),
      );
    });
    const steps = stdout.split("\n").filter((line) => line.startsWith("Step "));
    expect(steps).toEqual(
      Array.from(
        { length: 20 },
        (_, i) => `Step ${i}: ${Math.round(((i + 1) / 20) * 100)}%  Processing step ${i + 1}/20`,
      ),
    );
    expect(stdout).toMatch(/Final: A sunset: done with tiny \(pi ~ 3\.14\d+\)/);
  });
});
