import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const compiled = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const app = fileURLToPath(new URL("../fixtures/app/seed-app.ts", import.meta.url));

describe("the compiled troupe run", () => {
  it("serves a TypeScript app written against troupe's sources (another copy of troupe), and exits 0 on SIGTERM", async () => {
    expect(existsSync(compiled), "npm test builds dist/ before the tests").toBe(true);
    const child = spawn(process.execPath, [compiled, "run", app, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /Listening on (http:\/\/\S+)/.exec(out);
        if (match) resolve(match[1] as string);
      });
      child.once("exit", (code) => reject(new Error(`troupe run exited ${code}: ${stderr}`)));
    });
    try {
      const response = await fetch(`${url}/stream`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "A sunset", steps: 3 }),
      });
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const events = (await response.text())
        .split("\n\n")
        .filter((e) => e.startsWith("data: "))
        .map((e) => JSON.parse(e.slice(6)));
      expect(events.map((e) => e.step ?? "final")).toEqual([0, 1, 2, "final"]);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
