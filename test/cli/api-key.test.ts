/** `troupe stream` and `troupe call` against a real server with API keys: `--api-key` and `TROUPE_API_KEY`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { main } from "../../src/cli/program.ts";
import { serveForTest } from "../app/helpers.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { FakeOutput } from "./fake-output.ts";

const KEY = "tr_cli_0123456789";

async function cli(argv: string[], env: Record<string, string> = {}) {
  const stdout = new FakeOutput();
  const stderr = new FakeOutput();
  const code = await main({ argv, stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("the client commands against a server with keys", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(CounterApp, { auth: { keys: [KEY] } });
  });
  afterAll(() => server.close());

  const call = (...extra: string[]) => [
    "call",
    server.url,
    "--path",
    "/echo",
    "--input",
    '{"a":1}',
    ...extra,
  ];
  const streamArgs = (...extra: string[]) => [
    "stream",
    server.url,
    "--input",
    '{"steps":2}',
    ...extra,
  ];

  it("troupe call sends --api-key, or TROUPE_API_KEY, and the flag wins", async () => {
    for (const run of [
      cli(call("--api-key", KEY)),
      cli(call("-k", KEY)),
      cli(call(), { TROUPE_API_KEY: KEY }),
      cli(call("--api-key", KEY), { TROUPE_API_KEY: "wrong" }),
    ]) {
      const { code, stdout, stderr } = await run;
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ received: { a: 1 } });
    }
  });

  it("troupe stream sends the key on its stream", async () => {
    const { code, stdout, stderr } = await cli(streamArgs(), { TROUPE_API_KEY: KEY });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({ type: "done" });
  });

  it("without a key, or with a wrong one, fails with the server's UNAUTHORIZED in one line", async () => {
    const before = (server.app as CounterApp).calls;
    for (const argv of [
      call(),
      call("--api-key", "wrong"),
      streamArgs(),
      streamArgs("-k", "wrong"),
    ]) {
      const { code, stdout, stderr } = await cli(argv);
      expect(code, argv.join(" ")).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toMatch(/^troupe: .*UNAUTHORIZED.*\n$/);
      expect(stderr).toContain("401");
    }
    expect((server.app as CounterApp).calls).toBe(before);
  });
});
