import { spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the parallel-preview main", () => {
  it("serves the playground at the URL it prints, and exits cleanly on SIGTERM", async () => {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(
      process.execPath,
      ["--import", tsx, fileURLToPath(new URL("./main.ts", import.meta.url))],
      {
        env: { ...process.env, PORT: "0", CUDA_VISIBLE_DEVICES: "", TROUPE_LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = once(child, "exit");
    try {
      let url: string | undefined;
      for await (const line of createInterface({ input: child.stdout })) {
        url = /playground on (http:\/\/\S+)/.exec(line)?.[1];
        if (url !== undefined) break;
      }
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const page = await fetch(`${url}/`);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await page.text()).toContain("<title>ParallelPreviewApp</title>");
      const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(["/stream", "/"]));
      child.kill("SIGTERM");
      expect(await exited).toEqual([0, null]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
