import { spawn } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { knownLines, pageDataUrl } from "./test-pages.ts";

describe("the OCR service's main", () => {
  it("serves the app and its client page at the URLs it prints, and exits cleanly on SIGTERM", async () => {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(
      process.execPath,
      ["--import", tsx, fileURLToPath(new URL("./main.ts", import.meta.url))],
      {
        env: {
          ...process.env,
          PORT: "0",
          PAGE_PORT: "0",
          CUDA_VISIBLE_DEVICES: "",
          TROUPE_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const exited = once(child, "exit");
    try {
      let urls: RegExpExecArray | null = null;
      for await (const line of createInterface({ input: child.stdout })) {
        urls = /OCR service on (http:\/\/\S+); its client page is (http:\/\/\S+)/.exec(line);
        if (urls !== null) break;
      }
      const [, app, page] = urls ?? [];
      expect(app).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(page).toBe(`${new URL(page ?? "").origin}/?app=${encodeURIComponent(app ?? "")}`);
      const html = await fetch(page ?? "");
      expect(await html.text()).toContain("<title>troupe OCR service</title>");

      // The page's origin may call the app; the answer is the page's text.
      const answer = await fetch(`${app}/`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: new URL(page ?? "").origin },
        body: JSON.stringify({ image_url: await pageDataUrl(knownLines(2)) }),
      });
      expect(answer.headers.get("access-control-allow-origin")).toBe(new URL(page ?? "").origin);
      const result = (await answer.json()) as { text: string; worldSize: number };
      expect(result.worldSize).toBe(2);
      expect(result.text.split("\n")).toHaveLength(2);

      child.kill("SIGTERM");
      expect(await exited).toEqual([0, null]);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
