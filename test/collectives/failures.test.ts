import { describe, expect, it } from "vitest";
import { launch } from "./harness.ts";

interface Failure {
  code?: string;
  message?: string;
  rank?: number;
  details?: Record<string, unknown>;
}

describe("a failing collective", () => {
  it("fails fast on every rank with COLLECTIVE_MISMATCH saying who called what", async () => {
    await using run = await launch("mismatch", 3);
    const outcomes = await run.outcomes();
    for (const outcome of outcomes) expect(outcome.error).toBeUndefined();
    const values = outcomes.map((o) => o.value as Record<string, Failure | number>);
    const [zero = {}, one = {}, two = {}] = values;
    expect((zero.first as Failure).code).toBe("COLLECTIVE_MISMATCH");
    expect((zero.first as Failure).message).toContain(
      "rank 0 called gather(float32[4], dst=0) but rank 1 called broadcast(float32[4], src=0)",
    );
    expect((one.first as Failure).message).toMatch(
      /rank 1 called broadcast\(float32\[4\], src=0\) but rank [02] called gather\(float32\[4\], dst=0\)/,
    );
    expect((two.first as Failure).message).toContain("rank 1 called broadcast(float32[4], src=0)");
    expect((zero.second as Failure).message).toContain(
      "rank 0 called allReduce(float32[10], op=sum) but rank 1 called allReduce(float32[11], op=sum)",
    );
    expect((one.third as Failure).message).toContain("rank 1 called allReduce(int32[10], op=sum)");
    for (const value of values) {
      for (const key of ["first", "second", "third"])
        expect((value[key] as Failure).code).toBe("COLLECTIVE_MISMATCH");
      expect(value.after).toBe(6);
    }
  });

  it("times out on every waiting rank with COLLECTIVE_TIMEOUT naming the rank that did not arrive", async () => {
    await using run = await launch("timeout", 3);
    await Promise.all([run.message(0, "failed"), run.message(1, "failed")]);
    for (const rank of [0, 1, 2]) run.tell(rank, "finish");
    const outcomes = await run.outcomes([0, 1]);
    for (const outcome of outcomes) {
      const failure = outcome.value as Failure;
      expect(failure.code).toBe("COLLECTIVE_TIMEOUT");
      expect(failure.message).toContain("rank 2 did not call it");
      expect(failure.details?.missingRanks).toEqual([2]);
    }
    expect((await run.outcomes([2]))[0]?.value).toBe("skipped");
  });

  it("fails pending collectives with PEER_EXITED naming a rank killed with SIGKILL, and the rest go on", async () => {
    await using run = await launch("deathDuringCollective", 3);
    await Promise.all([0, 1, 2].map((rank) => run.message(rank, "entering")));
    run.children[2]?.kill("SIGKILL");
    const outcomes = await run.outcomes([0, 1]);
    for (const outcome of outcomes) {
      const value = outcome.value as { error: Failure; after: number };
      expect(value.error.code).toBe("PEER_EXITED");
      expect(value.error.rank).toBe(2);
      expect(value.error.message).toContain("Rank 2 exited");
      expect(value.after).toBe(3);
    }
  });

  it("aborts pending collectives on every rank when one rank cancels, and the next epoch computes correctly", async () => {
    await using run = await launch("abortThenNextEpoch", 3);
    await Promise.all([run.message(0, "entered"), run.message(1, "entered")]);
    run.tell(0, "abort");
    await Promise.all([run.message(0, "aborted"), run.message(1, "aborted")]);
    run.tell(2, "go");
    await Promise.all([run.message(0, "entered"), run.message(1, "entered")]);
    run.tell(2, "abort");
    const outcomes = await run.outcomes();
    for (const outcome of outcomes) expect(outcome.error).toBeUndefined();
    const values = outcomes.map(
      (o) =>
        o.value as {
          first: Failure;
          second: Failure | string;
          allReduceOk: boolean;
          gathered?: number[][];
        },
    );
    for (const value of values) {
      expect(value.first.code).toBe("COLLECTIVE_ABORTED");
      expect(value.first.message).toContain("request cancelled");
      expect(value.allReduceOk).toBe(true);
    }
    expect(values[1]?.first.message).toContain("Aborted by rank 0");
    for (const value of values.slice(0, 2)) {
      expect((value.second as Failure).code).toBe("COLLECTIVE_ABORTED");
      expect((value.second as Failure).message).toContain(
        "Aborted by rank 2: cancelled by the runner",
      );
    }
    expect(values[0]?.gathered).toEqual([
      [0, 0],
      [1, 2],
      [2, 4],
    ]);
  });

  it("delivers what a rank sent before it left, and fails the next collective with PEER_EXITED saying it left", async () => {
    await using run = await launch("leaveAfterLastCollective", 2);
    expect((await run.outcomes([1]))[0]?.value).toBe("sent");
    await run.exitedRank(1);
    run.tell(0, "go");
    const [zero] = await run.outcomes([0]);
    expect(zero?.value).toMatchObject({
      received: true,
      after: {
        code: "PEER_EXITED",
        rank: 1,
        message: expect.stringContaining("Rank 1 left the group"),
      },
    });
  });
});
