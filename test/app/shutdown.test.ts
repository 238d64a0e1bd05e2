import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { isRunning, tempDir, waitForFile } from "../helpers.ts";
import { parseHead, postJson, RawExchange, serveForTest } from "./helpers.ts";

function fatalError(exchange: RawExchange): Record<string, unknown> {
  const last = exchange.events.at(-1);
  expect(last?.event).toBe("error");
  const data = JSON.parse(last?.data ?? "") as { error: Record<string, unknown>; fatal: boolean };
  expect(data.fatal).toBe(true);
  return data.error;
}

describe("closing the server", () => {
  it("ends open streams of both dialects with a final SHUTTING_DOWN error, then stops the ranks", async () => {
    using dir1 = tempDir();
    using dir2 = tempDir();
    const server = await serveForTest(ScenarioApp);
    const app = server.app as ScenarioApp;
    const fal = await RawExchange.post(server, "/stream", { op: "waitAbort", dir: dir1.path });
    await fal.until((text) => text.includes("running"));
    // Queued behind the first.
    const own = await RawExchange.post(
      server,
      "/stream",
      { op: "waitAbort", dir: dir2.path },
      { "troupe-dialect": "troupe" },
    );
    await own.until((text) => text.includes("event: queued"));
    const closed = server.close();
    await Promise.all([fal.ended, own.ended]);
    expect(fatalError(fal)).toMatchObject({ code: "SHUTTING_DOWN", name: "ShuttingDownError" });
    expect(fatalError(own)).toMatchObject({
      code: "SHUTTING_DOWN",
      requestId: parseHead(own.text).headers["x-request-id"],
    });
    expect(own.events.at(-1)?.id).toBe("1");
    await waitForFile(join(dir1.path, "aborted-1"));
    await closed;
    expect(app.runner.state).toBe("stopped");
    expect(server.close()).toBe(closed);
  });

  it("answers a request in flight with 503 UNAVAILABLE, its work cancelled on every rank", async () => {
    using dir = tempDir();
    const server = await serveForTest(ScenarioApp);
    const pending = postJson(server, "/hold", { dir: dir.path });
    await waitForFile(join(dir.path, "started-0"));
    const closed = server.close();
    const response = await pending;
    expect(response.status).toBe(503);
    expect((await response.json()).error.code).toBe("UNAVAILABLE");
    await waitForFile(join(dir.path, "aborted-0"));
    await closed;
  });
});

describe("SIGTERM with handleSignals", () => {
  const tsx = createRequire(import.meta.url).resolve("tsx");

  it("ends the open stream with SHUTTING_DOWN, stops every rank and exits 0", async () => {
    using dir = tempDir();
    const child = spawn(
      process.execPath,
      ["--import", tsx, new URL("../fixtures/app/serve-main.ts", import.meta.url).pathname],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    let output = "";
    const firstLine = await new Promise<string>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("\n")) resolve(output.slice(0, output.indexOf("\n")));
      });
    });
    const { url, pids } = JSON.parse(firstLine) as { url: string; pids: number[] };
    expect(pids).toHaveLength(2);
    const port = Number(new URL(url).port);
    const stream = await RawExchange.post({ port }, "/stream", { op: "waitAbort", dir: dir.path });
    await stream.until((text) => text.includes("running"));
    child.kill("SIGTERM");
    await stream.ended;
    expect(fatalError(stream)).toMatchObject({ code: "SHUTTING_DOWN" });
    expect(await exited).toBe(0);
    for (const pid of pids) {
      await vi.waitFor(() => expect(isRunning(pid)).toBe(false), { timeout: 5000 });
    }
  });
});
