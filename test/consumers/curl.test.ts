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

/** curl's exit status for "transfer closed with outstanding read data remaining". */
const CURLE_PARTIAL_FILE = 18;

const dataEvents = (results: readonly unknown[]): string =>
  results.map((result) => `data: ${JSON.stringify(result)}\n\n`).join("");

describe("curl -N reading a troupe stream", () => {
  const server = stepsAppForSuite();

  const curl = (input: object) =>
    runProcess("curl", [
      "-sS",
      "-N",
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "--data",
      JSON.stringify(input),
      `${server().url}/stream`,
    ]);

  it("exits 0 with every event when the request succeeds", async () => {
    const { code, stdout, stderr } = await curl(succeeding);

    expect(stdout).toBe(dataEvents([...streamedSteps(3), finalResult]));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("exits 18 (transfer closed with outstanding data) when a rank fails after the stream has started", async () => {
    const { code, stdout, stderr } = await curl(failing);

    expect(code).toBe(CURLE_PARTIAL_FILE);
    expect(stderr).toContain(`curl: (${CURLE_PARTIAL_FILE})`);

    const steps = dataEvents(streamedSteps(2));
    expect(stdout.startsWith(steps)).toBe(true);
    const rest = stdout.slice(steps.length);
    expect(rest).toMatch(/^event: error\ndata: [^\n]+\n\n$/);
    expect(JSON.parse(rest.slice("event: error\ndata: ".length))).toEqual(failureEvent);
    expectNothingInternal(stdout);
  });
});
