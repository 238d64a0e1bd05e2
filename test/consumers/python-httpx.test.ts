import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runProcess } from "./run-process.ts";
import {
  expectNothingInternal,
  failing,
  failureEvent,
  finalResult,
  stepsAppForSuite,
  streamedSteps,
  succeeding,
} from "./server.ts";

/** Debian's python3 with its python3-httpx; CI installs both. */
const PYTHON = "/usr/bin/python3";
const reader = fileURLToPath(new URL("./fixtures/fal_stream.py", import.meta.url));

describe("fal_client's stream requests, sent with Debian's python3-httpx and read as httpx_sse reads them", () => {
  const server = stepsAppForSuite();

  const read = (input: object) =>
    runProcess(PYTHON, [reader, `${server().url}/stream`, JSON.stringify(input)]);
  const printed = (stdout: string): unknown[] =>
    stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line));

  it("exits 0 after printing every streamed result and the final result when the request succeeds", async () => {
    const { code, stdout, stderr } = await read(succeeding);

    expect(stderr).toBe("");
    expect(printed(stdout)).toEqual([...streamedSteps(3), finalResult]);
    expect(code).toBe(0);
  });

  it("raises when a rank fails after the stream has started: non-zero exit, the error on stderr", async () => {
    const { code, stdout, stderr } = await read(failing);

    expect(code).toBe(1);
    expect(stderr).toContain("httpx.RemoteProtocolError");

    // Like fal_client, the reader parses every event whatever its name, so the error event is
    // the last thing it prints; then the response ends without its last chunk and httpx raises.
    expect(printed(stdout)).toEqual([...streamedSteps(2), failureEvent]);
    expectNothingInternal(stdout);
  });
});
