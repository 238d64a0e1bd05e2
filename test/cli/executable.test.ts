import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const compiled = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const source = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** The built executable when there is one, else the source under tsx. */
function command(): string[] {
  if (existsSync(compiled)) return [compiled];
  return ["--import", createRequire(import.meta.url).resolve("tsx"), source];
}

function troupe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...command(), ...args], (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("the troupe executable", () => {
  it("starts with a shebang", async () => {
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(source, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("prints its help and exits with 0", async () => {
    const { code, stdout } = await troupe(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: troupe/);
    expect(stdout).toMatch(/stream \[options\] <url>/);
  });

  it("exits with 1 and one line on stderr when the server cannot be reached", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const { code, stdout, stderr } = await troupe(["call", `http://127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^troupe: Could not reach .* \(CONNECTION_FAILED\)\n$/);
  });
});
