import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { run, stream } from "../../src/client/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { tempDir, waitForFile } from "../helpers.ts";
import { serveForTest } from "./helpers.ts";

describe("troupe/client against a real server", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp);
  });
  afterAll(() => server.close());

  it("streams every result, then the final result", async () => {
    const s = stream(server.url, { input: { op: "burst", count: 3 } });
    const results: unknown[] = [];
    for await (const result of s) results.push(result);
    expect(results).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3, last: true }]);
    expect(await s.done()).toEqual({ count: 3 });
  });

  it("resumes a dropped connection with nothing lost or duplicated", async () => {
    let cuts = 0;
    // The first response breaks off right after the event with id 2.
    const cutting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (cuts++ > 0 || response.body === null) return response;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let seen = ""; // the events are ASCII: characters are bytes
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) return controller.close();
          seen += decoder.decode(value);
          const at = seen.indexOf("id: 2\n");
          const cut = at < 0 ? -1 : seen.indexOf("\n\n", at);
          const end = cut < 0 ? seen.length : cut + 2;
          controller.enqueue(new TextEncoder().encode(seen.slice(sent, end)));
          sent = end;
          if (cut >= 0) {
            await reader.cancel();
            controller.error(new TypeError("terminated"));
          }
        },
      });
      return new Response(body, { status: response.status, headers: response.headers });
    };
    const s = stream(server.url, {
      input: { op: "burst", count: 5 },
      fetch: cutting,
      reconnect: { attempts: 2, delay: 1 },
    });
    const results: unknown[] = [];
    for await (const result of s) results.push(result);
    expect(cuts).toBe(2);
    expect(results).toEqual([
      { i: 0 },
      { i: 1 },
      { i: 2 },
      { i: 3 },
      { i: 4 },
      { i: 5, last: true },
    ]);
    expect(await s.done()).toEqual({ count: 5 });
  });

  it("runs a non-streaming endpoint", async () => {
    expect(await run(server.url, { input: { op: "echo", value: 5 } })).toBe(5);
  });

  it("cancels on every rank when the client's signal aborts", async () => {
    using dir = tempDir();
    const controller = new AbortController();
    const s = stream(server.url, {
      input: { op: "waitAbort", dir: dir.path },
      signal: controller.signal,
    });
    const iterator = s[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ running: true });
    controller.abort();
    await expect(iterator.next()).rejects.toThrow();
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
  });

  it("rejects with the server's validation issues", async () => {
    const error = await run(server.url, { path: "/strict", input: { prompt: 1 } }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
