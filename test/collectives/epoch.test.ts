import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initProcessGroup, type ProcessGroup, TCPStore } from "../../src/collectives/index.ts";

let store: TCPStore;
let groups: ProcessGroup[];

beforeAll(async () => {
  store = await TCPStore.listen({ host: "127.0.0.1" });
  // Two ranks of one group in this process: enough to leave a collective waiting.
  groups = await Promise.all(
    [0, 1].map((rank) =>
      initProcessGroup({ rank, worldSize: 2, masterPort: store.port, isStoreHost: false }),
    ),
  );
});

afterAll(async () => {
  await Promise.all(groups.map((group) => group.destroy()));
  await store.close();
});

describe("beginEpoch", () => {
  it("fails a collective still waiting in the epoch that ended, and the next epoch computes", async () => {
    const [a, b] = groups as [ProcessGroup, ProcessGroup];
    a.beginEpoch(1);
    b.beginEpoch(1);
    const waiting = a.barrier(); // rank 1 never joins it in epoch 1
    a.beginEpoch(2);
    await expect(waiting).rejects.toMatchObject({
      code: "COLLECTIVE_ABORTED",
      message: "Epoch 1 ended: epoch 2 began",
    });
    b.beginEpoch(2);
    const x = new Float64Array([1]);
    const y = new Float64Array([2]);
    await Promise.all([a.allReduce(x), b.allReduce(y)]);
    expect([x[0], y[0]]).toEqual([3, 3]);
  });
});
