import { describe, expect, it } from "vitest";
import { nativeAddon } from "../../src/collectives/native-addon.ts";
import { launch } from "./harness.ts";

const native = nativeAddon() !== undefined;

async function runCorrectness(worldSize: number, env: Record<string, string> = {}) {
  await using run = await launch("correctness", worldSize, { env });
  const outcomes = await run.outcomes();
  for (const outcome of outcomes) {
    expect(outcome.error).toBeUndefined();
    const value = outcome.value as { checks: number; failures: string[] };
    expect(value.failures).toEqual([]);
    expect(value.checks).toBeGreaterThan(100);
  }
}

describe("collectives match a plain reference computation", () => {
  for (const worldSize of [1, 2, 3, 4]) {
    it.skipIf(!native)(
      `for every op, dtype and reduce op with ${worldSize} ranks over shared memory`,
      () => runCorrectness(worldSize),
      120_000,
    );
  }
  for (const worldSize of [2, 3]) {
    it(
      `for every op, dtype and reduce op with ${worldSize} ranks over Unix sockets and JavaScript kernels`,
      () => runCorrectness(worldSize, { TROUPE_NO_NATIVE: "1" }),
      120_000,
    );
  }
  it(
    "for every op, dtype and reduce op with 2 ranks over TCP",
    () => runCorrectness(2, { TROUPE_DIST_TRANSPORT: "tcp", TROUPE_LENGTHS: "0,1,1000,40003" }),
    120_000,
  );

  it("for 64 MiB tensors through allReduce, broadcast and gather with 2 ranks", async () => {
    await using run = await launch("bigTensors", 2);
    for (const outcome of await run.outcomes()) {
      expect(outcome.error).toBeUndefined();
      expect((outcome.value as { failures: string[] }).failures).toEqual([]);
    }
  }, 120_000);

  it("for object collectives and point-to-point transfers", async () => {
    await using run = await launch("objectsAndPointToPoint", 3);
    const [zero, one, two] = await run.outcomes();
    expect(zero?.error).toBeUndefined();
    expect(zero?.value).toEqual({
      gathered: [0, 1, 2].map((r) => ({ rank: r, when: 1000 * r, tag: r, data: r })),
      all: [0, 1, 2].map((r) => ({ rank: r, text: "é".repeat(r) })),
      broadcasted: { from: 1, list: [1, 2, 3] },
    });
    expect(one?.value).toEqual({
      all: expect.any(Array),
      broadcasted: { from: 1, list: [1, 2, 3] },
    });
    expect(two?.value).not.toHaveProperty("gathered");
  });
});
