import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it, onTestFailed } from "vitest";
import { prettyLine } from "../../src/cli/log-format.ts";
import { main } from "../../src/cli/program.ts";
import { isRunning, tempDir } from "../helpers.ts";
import { FakeOutput } from "./fake-output.ts";

const app = new URL("./fixtures/greeting-app.ts", import.meta.url).pathname;
const executable = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const TIME = /^\d\d:\d\d:\d\d\.\d{3} /;

/** `troupe run` in-process, stderr a terminal or not, until the returned `stop()`. */
function run(argv: string[], options: { ttyStderr?: boolean; cwd?: string } = {}) {
  const controller = new AbortController();
  const stdout = new FakeOutput();
  const stderr = new FakeOutput({ tty: options.ttyStderr ?? false });
  const code = main({
    argv: ["run", ...argv],
    stdout,
    stderr,
    env: {},
    signal: controller.signal,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const url = async () =>
    ((await stdout.waitFor(/Listening on (http:\/\/\S+)\n/)) as [string, string])[1];
  const stop = async () => {
    controller.abort();
    return await code;
  };
  return { stdout, stderr, code, url, stop };
}

function greet(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ name: "flags" }),
  });
}

describe("troupe run --log-format and --log-level", () => {
  it("writes pretty lines when stderr is a terminal, with the fields that matter", async () => {
    const served = run([app, "--port", "0"], { ttyStderr: true });
    const url = await served.url();
    await (await greet(url, { "x-request-id": "pretty-one" })).text();
    expect(await served.stop()).toBe(0);
    const lines = served.stderr.text.trimEnd().split("\n");
    const request = lines.find((l) => l.includes("request completed")) as string;
    expect(request).toMatch(TIME);
    expect(request.replace(TIME, "")).toMatch(
      /^INFO {2}request completed reqId=[0-9a-f-]{36} method=POST url=\/ status=200 ms=[\d.]+ outcome=ok$/,
    );
    expect(served.stderr.text).not.toMatch(/^\{/m);
    expect(served.stdout.text).toBe(`Listening on ${url}\n`);
  });

  it("writes JSON lines when stderr is not a terminal, or when told to", async () => {
    for (const [argv, tty] of [
      [[], false],
      [["--log-format", "json"], true],
    ] as const) {
      const served = run([app, "--port", "0", ...argv], { ttyStderr: tty });
      await (await greet(await served.url())).text();
      expect(await served.stop()).toBe(0);
      const records = served.stderr.json() as { msg: string; level: number }[];
      expect(records.map((r) => r.msg)).toContain("request completed");
    }
  });

  it("logs at the level asked: debug shows the port opening before setup() ends, warn hides requests", async () => {
    const debug = run([app, "--port", "0", "--log-level", "debug"]);
    const url = await debug.url();
    expect(await debug.stop()).toBe(0);
    expect(debug.stderr.json()).toContainEqual(
      expect.objectContaining({ level: 20, msg: "port open; the app's setup() is running", url }),
    );

    const warn = run([app, "--port", "0", "--log-level", "WARN"]);
    await (await greet(await warn.url())).text();
    expect(await warn.stop()).toBe(0);
    expect(warn.stderr.text).toBe("");
  });

  it("refuses an unknown level or format with one line and exit code 1", async () => {
    for (const [flag, value, message] of [
      [
        "--log-level",
        "loud",
        "Expected --log-level to be one of fatal, error, warn, info, debug, trace, silent, got loud",
      ],
      ["--log-format", "xml", "Expected --log-format to be pretty or json, got xml"],
    ] as const) {
      const served = run([app, flag, value]);
      expect(await served.code).toBe(1);
      expect(served.stderr.text).toBe(`troupe: ${message} (INVALID_ARGUMENT)\n`);
      expect(served.stdout.text).toBe("");
    }
  });
});

describe("troupe run --api-key-file", () => {
  it("requires one of the file's keys, skipping blank lines and # comments", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "keys.txt"), "# the team's keys\n\n  first-key  \nsecond-key\n");
    const served = run([app, "--port", "0", "--api-key-file", "keys.txt"], { cwd: dir.path });
    const url = await served.url();
    try {
      const without = await greet(url);
      expect(without.status).toBe(401);
      expect(((await without.json()) as { error: { code: string } }).error.code).toBe(
        "UNAUTHORIZED",
      );
      for (const key of ["first-key", "second-key"]) {
        const keyed = await greet(url, { authorization: `Key ${key}` });
        expect(keyed.status, key).toBe(200);
        expect(await keyed.json()).toEqual({ greeting: "hello flags" });
      }
      expect((await greet(url, { authorization: "Key # the team's keys" })).status).toBe(401);
    } finally {
      expect(await served.stop()).toBe(0);
    }
  });

  it("fails with one line and exit code 1 for a missing file or one without a key", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "empty.txt"), "# nobody yet\n\n");
    for (const [file, message] of [
      ["missing.txt", "Could not read the API key file missing.txt: no such file"],
      [
        "empty.txt",
        "The API key file empty.txt holds no key (one key a line; blank lines and # comments are skipped)",
      ],
    ] as const) {
      const served = run([app, "--api-key-file", file], { cwd: dir.path });
      expect(await served.code).toBe(1);
      expect(served.stderr.text).toBe(`troupe: ${message} (INVALID_ARGUMENT)\n`);
      expect(served.stdout.text).toBe("");
    }
  });
});

describe("prettyLine", () => {
  it("shows a failure's code, rank and message, and its stack's frames indented", () => {
    const line = JSON.stringify({
      level: 50,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
      msg: "request failed",
      reqId: "r-1",
      method: "POST",
      url: "/stream",
      status: 200,
      ms: 12.345,
      outcome: "failed",
      code: "CALL_FAILED",
      rank: 1,
      pid: 123,
      hostname: "h",
      err: {
        type: "CallError",
        message: "boom at step 3",
        stack: "Error: boom\n    at step (w.ts:1:2)\n    at run (w.ts:3:4)",
      },
    });
    const text = prettyLine(line);
    expect(text).toMatch(TIME);
    expect(text.replace(TIME, "")).toBe(
      'ERROR request failed reqId=r-1 method=POST url=/stream status=200 ms=12.3 outcome=failed code=CALL_FAILED rank=1 err="boom at step 3"\n' +
        "    at step (w.ts:1:2)\n    at run (w.ts:3:4)\n",
    );
  });

  it("passes a line that is not pino's JSON on as it is", () => {
    expect(prettyLine("plain words")).toBe("plain words\n");
    expect(prettyLine("42")).toBe("42\n");
  });
});

describe("troupe run stopped while setup() runs", () => {
  it("waits for setup() to end, then runs teardown(), stops the ranks and exits 0, never printing Listening", async () => {
    const fixture = new URL("./fixtures/signal-in-setup-app.ts", import.meta.url).pathname;
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const child = spawn(
      process.execPath,
      ["--import", tsx, executable, "run", fixture, "--port", "0", "--log-level", "debug"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const stdout = new FakeOutput();
    const stderr = new FakeOutput();
    child.stdout.on("data", (chunk: Buffer) => stdout.write(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.write(chunk));
    // It timed out once in a full run and never alone: say where the child was.
    onTestFailed(() => {
      console.error(`troupe run's stderr so far:\n${stderr.text}`);
      child.kill("SIGKILL");
    });
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const [, url] = (await stderr.waitFor(/"url":"(http:\/\/[^"]+)","msg":"port open/)) as [
      string,
      string,
    ];
    const [, pids] = (await stderr.waitFor(/^ranks (\[.*\])$/m)) as [string, string];
    const starting = await fetch(`${url}/health/ready`);
    expect(await starting.json()).toEqual({ status: "starting" });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout.text).toBe("");
    for (const pid of JSON.parse(pids) as number[]) expect(isRunning(pid)).toBe(false);
  });
});
