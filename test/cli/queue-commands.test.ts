/**
 * `troupe submit`, `status`, `result` and `cancel`, run through main() against a real server's
 * queue (the scenario app's two runners), and against one with API keys.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { main } from "../../src/cli/program.ts";
import { statusStream } from "../../src/client/index.ts";
import { serveForTest } from "../app/helpers.ts";
import { sseServer } from "../client/sse-server.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { waitForFile } from "../helpers.ts";
import { FakeOutput } from "./fake-output.ts";

const APP_ID = "local/scenario-app";
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

let server: ServerHandle;
let dir: string;

beforeAll(async () => {
  server = await serveForTest(ScenarioApp);
  dir = mkdtempSync(join(tmpdir(), "troupe-cli-queue-"));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI in-process; `code` settles with its exit code. */
function cli(
  argv: string[],
  options: { tty?: boolean; env?: Record<string, string>; signal?: AbortSignal } = {},
) {
  const stdout = new FakeOutput({ tty: options.tty ?? false });
  const stderr = new FakeOutput();
  const code = main({
    argv,
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: dir,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return { stdout, stderr, code };
}

/** Runs the CLI to its end. */
async function run(argv: string[], options: Parameters<typeof cli>[1] = {}) {
  const { stdout, stderr, code } = cli(argv, options);
  return { code: await code, stdout: stdout.text, stderr: stderr.text };
}

/** `troupe submit` to the scenario app; resolves with the id it printed. */
async function submitted(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await run(["submit", server.url, "--app-id", APP_ID, ...args]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(stdout).toMatch(/^[0-9a-f-]{36}\n$/);
  return stdout.trim();
}

const queue = (command: string, id: string, ...args: string[]) => [
  command,
  server.url,
  id,
  "--app-id",
  APP_ID,
  ...args,
];

/** Waits until the request has completed, by its status stream. */
async function completed(id: string): Promise<void> {
  for await (const s of statusStream(server.url, APP_ID, id)) if (s.status === "COMPLETED") return;
}

describe("troupe submit, status and result", () => {
  it("submit prints the id; status --watch follows it to COMPLETED; result prints the output", async () => {
    const id = await submitted("--input", '{"op":"echo","value":{"a":1}}');
    const watched = await run(queue("status", id, "--watch"));
    expect(watched.stderr).toBe("");
    expect(watched.code).toBe(0);
    const lines = watched.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({
      status: "COMPLETED",
      requestId: id,
      metrics: { inferenceTime: expect.any(Number) },
    });
    expect(lines.at(-1)).not.toHaveProperty("raw");

    const once = await run(queue("status", id, "--logs"));
    expect(JSON.parse(once.stdout)).toMatchObject({ status: "COMPLETED", logs: expect.any(Array) });

    expect(await run(queue("result", id))).toEqual({ code: 0, stdout: '{"a":1}\n', stderr: "" });
    const pretty = await run(queue("result", id), { tty: true });
    expect(pretty.stdout).toBe('{\n  "a": 1\n}\n');
  });

  it("on a terminal, status prints one line per status", async () => {
    const id = await submitted("--input", '{"op":"echo","value":2}');
    await completed(id);
    const { code, stdout } = await run(queue("status", id, "--watch"), { tty: true });
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^${id} COMPLETED in [\\d.]+ s\\n$`));
  });

  it("submit --follow prints the submission, then each event as troupe stream does", async () => {
    const { code, stdout, stderr } = await run([
      "submit",
      server.url,
      "--app-id",
      APP_ID,
      "--path",
      "/objects",
      "--input",
      '{"op":"burst","count":2}',
      "--follow",
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.type !== "queued");
    expect(lines[0]).toMatchObject({ type: "submitted", requestId: expect.any(String) });
    expect(lines.slice(1)).toEqual([
      { type: "started" },
      { type: "result", n: 1, id: 2, data: { i: 0 } },
      { type: "result", n: 2, id: 3, data: { i: 1 } },
      { type: "result", n: 3, id: 4, data: { i: 2, last: true } },
      { type: "done", data: { count: 2 } },
    ]);
  });

  it("reads the body from --input-file, and refuses a missing or broken file, or both flags", async () => {
    const file = join(dir, "input.json");
    writeFileSync(file, '{"op":"echo","value":"from a file"}');
    const id = await submitted("--input-file", "input.json");
    await completed(id);
    expect((await run(queue("result", id))).stdout).toBe('"from a file"\n');

    writeFileSync(join(dir, "broken.json"), "{op:");
    const refusals = [
      [
        ["--input-file", "missing.json"],
        /^troupe: Could not read --input-file missing\.json: ENOENT/,
      ],
      [["--input-file", "broken.json"], /^troupe: --input-file is not valid JSON/],
      [["--input-file", "input.json", "--input", "{}"], /^troupe: Give --input or --input-file/],
      [["--timeout", "0"], /^troupe: Expected --timeout to be a positive number of seconds/],
      [["--priority", "high"], /^error: option '--priority <priority>' argument 'high' is invalid/],
    ] as const;
    for (const [args, message] of refusals) {
      const { code, stdout, stderr } = await run([
        "submit",
        server.url,
        "--app-id",
        APP_ID,
        ...args,
      ]);
      expect(code, args.join(" ")).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toMatch(message);
    }
  });

  it("sends --priority, --timeout and --webhook: the timeout fails the request, the webhook hears of it", async () => {
    await using receiver = await sseServer();
    const holdAt = mkdtempSync(join(dir, "timeout-"));
    const id = await submitted(
      "--path",
      "/hold",
      "--input",
      JSON.stringify({ dir: holdAt }),
      "--priority",
      "low",
      "--timeout",
      // Long enough that the hold worker's call() has begun (it writes aborted-0 on its cancel)
      // however loaded the machine, since the time counts from the submit.
      "2",
      "--webhook",
      `${receiver.url}/hook`,
    );
    const hook = await receiver.next();
    expect([hook.method, hook.url]).toEqual(["POST", "/hook"]);
    expect(JSON.parse(hook.body)).toMatchObject({ request_id: id, status: "ERROR" });
    hook.json(200, {});
    await waitForFile(join(holdAt, "aborted-0"));
    const failed = await run(queue("result", id));
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toMatch(
      new RegExp(
        `^troupe: .*x-fal-request-timeout.* \\(REQUEST_TIMEOUT, status 504, request ${id}\\)\\n$`,
      ),
    );
  });

  it("a failed request: result and submit --follow fail with the server's code, exit 1", async () => {
    const input = '{"op":"throw","rank":0,"message":"no luck"}';
    const followed = await run(["submit", server.url, "--app-id", APP_ID, "--input", input, "-f"]);
    expect(followed.code).toBe(1);
    const id = (JSON.parse(followed.stdout.split("\n")[0] ?? "") as { requestId: string })
      .requestId;
    expect(followed.stderr).toMatch(new RegExp(`no luck.*\\(CALL_FAILED.*request ${id}\\)\\n$`));
    const failed = await run(queue("result", id));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      new RegExp(`no luck \\(CALL_FAILED, status 500, rank 0, request ${id}\\)\\n$`),
    );
  });

  it("an unknown id, a missing --app-id and a validation failure are one line on stderr, exit 1", async () => {
    for (const command of ["status", "result", "cancel"]) {
      const { code, stderr } = await run(queue(command, UNKNOWN_ID));
      expect(code, command).toBe(1);
      expect(stderr).toMatch(
        new RegExp(`^troupe: HTTP 404: .*\\(NOT_FOUND, status 404, request ${UNKNOWN_ID}\\)\\n$`),
      );
    }
    const noAppId = await run(["status", server.url, UNKNOWN_ID]);
    expect(noAppId.code).toBe(1);
    expect(noAppId.stderr).toMatch(/^error: required option '-a, --app-id <id>' not specified\n$/);
    const badAppId = await run(["status", server.url, UNKNOWN_ID, "--app-id", "noslash"]);
    expect(badAppId.code).toBe(1);
    expect(badAppId.stderr).toMatch(
      /^troupe: Expected `appId` to be "owner\/alias".*\(INVALID_ARGUMENT\)\n$/,
    );
    const invalid = await run(["submit", server.url, "--app-id", APP_ID, "--path", "/strict"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /^troupe: HTTP 422: .*prompt.*\(VALIDATION_FAILED, status 422, request /,
    );
  });
});

describe("troupe submit|status|result|cancel --help", () => {
  it("prints each command's usage and exits with 0", async () => {
    for (const command of ["submit", "status", "result", "cancel"]) {
      const { code, stdout } = await run([command, "--help"]);
      expect(code, command).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: troupe ${command} \\[options\\] <url>`));
      expect(stdout).toContain("--app-id <id>");
    }
  });
});

describe("troupe cancel", () => {
  it("cancels a running request, then says it had completed", async () => {
    const holdAt = mkdtempSync(join(dir, "cancel-"));
    const id = await submitted("--path", "/hold", "--input", JSON.stringify({ dir: holdAt }));
    await waitForFile(join(holdAt, "started-0"));
    expect(await run(queue("cancel", id))).toEqual({
      code: 0,
      stdout: "CANCELLATION_REQUESTED\n",
      stderr: "",
    });
    await waitForFile(join(holdAt, "aborted-0"));
    await completed(id);
    expect((await run(queue("cancel", id))).stdout).toBe("ALREADY_COMPLETED\n");
    const watched = await run(queue("status", id), { tty: true });
    expect(watched.stdout).toMatch(new RegExp(`^${id} COMPLETED with ABORTED: `));
  });

  it("an interrupted submit --follow stops following, exits 130, and leaves the request in the queue", async () => {
    const holdAt = mkdtempSync(join(dir, "follow-"));
    const controller = new AbortController();
    const { stdout, stderr, code } = cli(
      [
        "submit",
        server.url,
        "--app-id",
        APP_ID,
        "--path",
        "/stream",
        "--input",
        JSON.stringify({ op: "waitAbort", dir: holdAt }),
        "--follow",
      ],
      { signal: controller.signal },
    );
    await stdout.waitFor(/"running":true/);
    controller.abort();
    expect(await code).toBe(130);
    const id = (JSON.parse(stdout.text.split("\n")[0] ?? "") as { requestId: string }).requestId;
    expect(stderr.text).toBe(
      `troupe: stopped following ${id}; it goes on in the queue (troupe cancel ${server.url} --app-id ${APP_ID} ${id} cancels it)\n`,
    );
    expect(JSON.parse((await run(queue("status", id))).stdout)).toMatchObject({
      status: "IN_PROGRESS",
    });
    expect((await run(queue("cancel", id))).stdout).toBe("CANCELLATION_REQUESTED\n");
    await waitForFile(join(holdAt, "aborted-0"));
  });
});

describe("the queue commands against a server with keys", () => {
  const KEY = "tr_cli_queue_0123456789";
  let keyed: ServerHandle;
  beforeAll(async () => {
    keyed = await serveForTest(CounterApp, { auth: { keys: [KEY] } });
  });
  afterAll(() => keyed?.close());

  it("send --api-key or TROUPE_API_KEY, and are refused 401 without", async () => {
    const submit = (...extra: string[]) => [
      "submit",
      keyed.url,
      "--app-id",
      "local/counter-app",
      "--path",
      "/echo",
      "--input",
      '{"a":1}',
      ...extra,
    ];
    const refused = await run(submit());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(UNAUTHORIZED, status 401/);
    const byFlag = await run(submit("--api-key", KEY));
    expect(byFlag.code).toBe(0);
    const id = byFlag.stdout.trim();
    const env = { TROUPE_API_KEY: KEY };
    const watched = await run(
      ["status", keyed.url, id, "--app-id", "local/counter-app", "--watch"],
      { env },
    );
    expect(watched.code).toBe(0);
    const result = await run(["result", keyed.url, id, "--app-id", "local/counter-app"], { env });
    expect(JSON.parse(result.stdout)).toMatchObject({ received: { a: 1 } });
    const without = await run(["result", keyed.url, id, "--app-id", "local/counter-app"]);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/\(UNAUTHORIZED, status 401/);
  });
});
