import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initProcessGroup, type ProcessGroup, TCPStore } from "../../src/collectives/index.ts";

let store: TCPStore;
let group: ProcessGroup;

beforeAll(async () => {
  store = await TCPStore.listen({ host: "127.0.0.1" });
  group = await initProcessGroup({
    rank: 0,
    worldSize: 1,
    masterPort: store.port,
    isStoreHost: false,
  });
});

afterAll(async () => {
  await group.destroy();
  await store.close();
});

describe("argument validation", () => {
  it("rejects a non-TypedArray tensor with INVALID_ARGUMENT naming what it got", async () => {
    await expect(group.allReduce([1, 2] as never)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "Expected `tensor` to be a TypedArray, got Array",
    });
  });

  it("rejects a root outside the group naming the value and the valid range", async () => {
    await expect(group.broadcast(new Float32Array(1), { src: 3 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: "Expected `src` to be a rank of the world group (an integer in 0..0), got number 3",
    });
  });

  it("rejects an unknown reduce op and avg on an integer tensor", async () => {
    await expect(
      group.allReduce(new Float32Array(1), { op: "mean" as never }),
    ).rejects.toMatchObject({
      message: 'Expected `op` to be one of sum, prod, min, max, avg, got "mean"',
    });
    await expect(group.allReduce(new Int32Array(1), { op: "avg" })).rejects.toMatchObject({
      message: 'Expected a floating-point tensor for `op` "avg", got int32',
    });
  });

  it("rejects a non-positive timeout and a reduceScatter input of the wrong size", async () => {
    await expect(group.barrier({ timeout: 0 })).rejects.toMatchObject({
      message: "Expected `timeout` to be a positive number of milliseconds, got number 0",
    });
    await expect(
      group.reduceScatter(new Float32Array(2), new Float32Array(3)),
    ).rejects.toMatchObject({
      message: "Expected `input` to be float32[2] (1 × output), got float32[3]",
    });
  });

  it("rejects a missing world size naming the environment variable", async () => {
    const saved = process.env.WORLD_SIZE;
    delete process.env.WORLD_SIZE;
    try {
      await expect(initProcessGroup({ rank: 0 })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message:
          "Expected `worldSize` (or the WORLD_SIZE environment variable) to be an integer ≥ 1, got undefined",
      });
    } finally {
      if (saved !== undefined) process.env.WORLD_SIZE = saved;
    }
  });

  it("rejects an epoch that does not increase and keeps the group usable", async () => {
    group.beginEpoch(5);
    expect(() => group.beginEpoch(5)).toThrow(/greater than the current epoch 5/);
    const x = new Float64Array([1.5]);
    await group.allReduce(x, { op: "avg" });
    expect(x[0]).toBe(1.5);
  });

  it("rejects operations after an abort until the next epoch begins", async () => {
    group.beginEpoch(10);
    group.abort("stop");
    await expect(group.barrier()).rejects.toMatchObject({ code: "COLLECTIVE_ABORTED" });
    group.beginEpoch(11);
    await expect(group.barrier()).resolves.toBeUndefined();
  });

  it("rejects operations on a destroyed subgroup with GROUP_DESTROYED", async () => {
    const sub = group.newGroup([0]);
    await sub?.destroy();
    await expect(sub?.barrier()).rejects.toMatchObject({ code: "GROUP_DESTROYED" });
  });

  it("fails to join with RENDEZVOUS_FAILED naming the ranks that never joined", async () => {
    await expect(
      initProcessGroup({
        rank: 0,
        worldSize: 3,
        masterPort: store.port,
        isStoreHost: false,
        timeout: 200,
      }),
    ).rejects.toMatchObject({
      code: "RENDEZVOUS_FAILED",
      message: expect.stringContaining("ranks 1, 2 to join"),
      details: { missingRanks: [1, 2] },
    });
  });
});
