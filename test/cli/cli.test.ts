import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/program.ts";
import { event, type SseServer, sseServer } from "../client/sse-server.ts";
import { tempDir } from "../helpers.ts";
import { FakeOutput } from "./fake-output.ts";

let server: SseServer;
beforeEach(async () => {
  server = await sseServer();
});
afterEach(async () => {
  await server.close();
});

function cli(argv: string[], options: { tty?: boolean; cwd?: string; signal?: AbortSignal } = {}) {
  const stdout = new FakeOutput({ tty: options.tty ?? false });
  const stderr = new FakeOutput();
  const code = main({
    argv,
    stdout,
    stderr,
    env: {},
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { stdout, stderr, code };
}

const PIXEL = Buffer.from("R0lGODlhAQABAAAAACw=", "base64");
const pixelUrl = (type: string) => `data:${type};base64,${PIXEL.toString("base64")}`;

describe("troupe stream", () => {
  it("prints JSON lines as events arrive, the final result last, and saves the images", async () => {
    using dir = tempDir();
    const { stdout, stderr, code } = cli([
      "stream",
      server.url,
      "--input",
      '{"prompt":"A sunset"}',
      "--out",
      dir.path,
    ]);
    const exchange = await server.next();
    expect(exchange.url).toBe("/stream");
    expect(JSON.parse(exchange.body)).toEqual({ prompt: "A sunset" });
    await exchange.open("req-cli");
    await exchange.write(`retry: 0\n\n${event("queued", { position: 0 })}${event("started", {})}`);
    await exchange.write(event("result", { step: 0, progress: 0.5 }, 1));
    // Each event is printed before the next one arrives.
    await stdout.waitFor(/"step":0/);
    await exchange.write(
      event(
        "result",
        {
          step: 1,
          progress: 1,
          images: [{ content_type: "image/jpeg", url: pixelUrl("image/jpeg") }],
          preview: pixelUrl("image/png"),
        },
        2,
      ) + event("done", { output: "done" }, 3),
    );
    exchange.end();
    expect(await code).toBe(0);
    expect(stderr.text).toBe("");
    const jpg = join(dir.path, "event-2-images-0.jpg");
    const png = join(dir.path, "event-2-preview.png");
    expect(stdout.json()).toEqual([
      { type: "queued", position: 0 },
      { type: "started" },
      { type: "result", n: 1, id: 1, data: { step: 0, progress: 0.5 } },
      { type: "image", n: 2, path: jpg },
      { type: "image", n: 2, path: png },
      {
        type: "result",
        n: 2,
        id: 2,
        data: {
          step: 1,
          progress: 1,
          images: [{ content_type: "image/jpeg", url: jpg }],
          preview: png,
        },
      },
      { type: "done", data: { output: "done" } },
    ]);
    expect(readFileSync(jpg)).toEqual(PIXEL);
    expect(readFileSync(png)).toEqual(PIXEL);
  });

  it("draws a progress bar on a terminal, with the other fields beside it", async () => {
    const { stdout, code } = cli(["stream", server.url], { tty: true });
    const exchange = await server.next();
    await exchange.open("req-tty");
    await exchange.write(
      `retry: 0\n\n${event("result", { step: 0, progress: 0.5, message: "halfway" }, 1)}` +
        event("result", { step: 1, progress: 1, message: "all done" }, 2) +
        event("done", { output: "fin" }, 3),
    );
    exchange.end();
    expect(await code).toBe(0);
    expect(stdout.text).toMatch(/█+.* 100% \| step: 1 {2}message: all done/);
    expect(stdout.text).toMatch(/Result: \{\n {2}"output": "fin"\n\}\n$/);
  });

  it("fails with a one-line message naming the code and request id of a fatal error event", async () => {
    const { stdout, stderr, code } = cli(["stream", server.url]);
    const exchange = await server.next();
    await exchange.open("req-fatal");
    await exchange.write(
      `retry: 0\n\n${event("result", { step: 0 }, 1)}` +
        event(
          "error",
          {
            error: {
              name: "WorkerCallError",
              code: "CALL_FAILED",
              message: "out of memory",
              rank: 1,
              requestId: "req-fatal",
            },
            fatal: true,
          },
          2,
        ),
    );
    exchange.end();
    expect(await code).toBe(1);
    expect(stderr.text).toBe("troupe: out of memory (CALL_FAILED, rank 1, request req-fatal)\n");
    expect(stdout.json()).toEqual([{ type: "result", n: 1, id: 1, data: { step: 0 } }]);
  });

  it("exits with 3 after non-fatal error events, each also a line on stderr", async () => {
    const { stdout, stderr, code } = cli(["stream", server.url]);
    const exchange = await server.next();
    await exchange.open("req-warn");
    await exchange.write(
      `retry: 0\n\n${event("error", { error: { code: "CALL_FAILED", message: "skipped a frame", requestId: "req-warn" }, fatal: false }, 1)}` +
        event("done", { output: "ok" }, 2),
    );
    exchange.end();
    expect(await code).toBe(3);
    expect(stderr.text).toBe(
      "troupe: error event: skipped a frame (CALL_FAILED, request req-warn)\n",
    );
    expect(stdout.json().at(-1)).toEqual({ type: "done", data: { output: "ok" } });
  });

  it("names the status, code and request id of an HTTP error", async () => {
    const { stderr, code } = cli(["stream", server.url, "--input", '{"steps":"x"}']);
    const exchange = await server.next();
    exchange.json(422, {
      error: {
        code: "VALIDATION_FAILED",
        message: "Invalid input",
        requestId: "req-422",
        issues: [{ path: "steps", message: "Expected number" }],
      },
    });
    expect(await code).toBe(1);
    expect(stderr.text).toBe(
      "troupe: HTTP 422: Invalid input [steps: Expected number] (VALIDATION_FAILED, status 422, request req-422)\n",
    );
  });

  it("cancels the request with DELETE and exits with 130 when its signal aborts", async () => {
    const controller = new AbortController();
    const { stdout, stderr, code } = cli(["stream", server.url], { signal: controller.signal });
    const exchange = await server.next();
    await exchange.open("req-int");
    await exchange.write(`retry: 0\n\n${event("result", { step: 0 }, 1)}`);
    await stdout.waitFor(/"step":0/);
    controller.abort();
    expect(await code).toBe(130);
    expect(stderr.text).toBe("troupe: cancelled\n");
    const cancel = await server.next();
    expect([cancel.method, cancel.url]).toEqual(["DELETE", "/requests/req-int"]);
    exchange.end();
  });
});

describe("troupe call", () => {
  it("prints the JSON result on one line when stdout is not a terminal", async () => {
    const { stdout, code } = cli([
      "call",
      server.url,
      "--input",
      '{"prompt":"A sunset"}',
      "--path",
      "/run",
    ]);
    const exchange = await server.next();
    expect([exchange.method, exchange.url, exchange.body]).toEqual([
      "POST",
      "/run",
      '{"prompt":"A sunset"}',
    ]);
    exchange.json(200, { output: "done", n: [1, 2] });
    expect(await code).toBe(0);
    expect(stdout.text).toBe('{"output":"done","n":[1,2]}\n');
  });

  it("rejects input that is not JSON before sending anything", async () => {
    const { stdout, stderr, code } = cli(["call", server.url, "--input", "{prompt: 1}"]);
    expect(await code).toBe(1);
    expect(stdout.text).toBe("");
    expect(stderr.text).toMatch(
      /^troupe: --input is not valid JSON \(.*\): \{prompt: 1\} \(INVALID_ARGUMENT\)\n$/,
    );
  });

  it("says so when the server cannot be reached", async () => {
    const url = server.url;
    await server.close();
    const { stderr, code } = cli(["call", url]);
    expect(await code).toBe(1);
    expect(stderr.text).toMatch(
      /^troupe: Could not reach http:\/\/127\.0\.0\.1:\d+\/: .*\(CONNECTION_FAILED\)\n$/,
    );
    server = await sseServer();
  });
});

describe("troupe --help and usage errors", () => {
  it("prints help for every command and exits with 0", async () => {
    for (const argv of [["--help"], ["run", "--help"], ["stream", "--help"], ["call", "--help"]]) {
      const { stdout, code } = cli(argv);
      expect(await code, argv.join(" ")).toBe(0);
      expect(stdout.text).toMatch(/^Usage: troupe/);
    }
  });

  it("exits with 1 and one line on stderr for an unknown command or a missing argument", async () => {
    for (const argv of [["bogus"], ["stream"]]) {
      const { stderr, code } = cli(argv);
      expect(await code).toBe(1);
      expect(stderr.text.trim().split("\n")).toHaveLength(1);
      expect(stderr.text).toMatch(/^error: /);
    }
  });
});

describe("troupe run", () => {
  it("serves the app module's default export, prints its URL, and stops when its signal aborts", async () => {
    const controller = new AbortController();
    const app = new URL("./fixtures/greeting-app.ts", import.meta.url).pathname;
    const served = cli(["run", app, "--port", "0"], { signal: controller.signal });
    const [, url] = (await served.stdout.waitFor(/Listening on (http:\/\/127\.0\.0\.1:\d+)\n/)) as [
      string,
      string,
    ];
    const called = cli(["call", url, "--input", '{"name":"troupe"}']);
    expect(await called.code).toBe(0);
    expect(called.stdout.text).toBe('{"greeting":"hello troupe"}\n');
    controller.abort();
    expect(await served.code).toBe(0);
    // The server's logs go to stderr: stdout has the URL alone, and it is the one listening line.
    expect(served.stdout.text).toBe(`Listening on ${url}\n`);
    expect(served.stderr.text).toMatch(/"msg":"request completed"/);
    expect(served.stderr.text).not.toMatch(/listening/i);
    await expect(fetch(url)).rejects.toThrow();
  });

  it("fails with a clear message for a module without an App class", async () => {
    using dir = tempDir();
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir.path, "not-an-app.mjs"), "export const x = 1;\n");
    const { stderr, code } = cli(["run", "not-an-app.mjs"], { cwd: dir.path });
    expect(await code).toBe(1);
    expect(stderr.text).toBe(
      "troupe: Expected the app module not-an-app.mjs to export an App class as its default export, got undefined (INVALID_ARGUMENT)\n",
    );
  });
});
