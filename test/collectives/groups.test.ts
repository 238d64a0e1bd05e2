import { describe, expect, it } from "vitest";
import { nativeAddon } from "../../src/collectives/native-addon.ts";
import { launch } from "./harness.ts";

describe("process groups", () => {
  it("run collectives among some ranks with newGroup, group ranks counted within the group", async () => {
    await using run = await launch("subgroups", 4);
    const values = (await run.outcomes()).map((o) => o.value);
    expect(values).toEqual([
      { pairRank: 0, pairRanks: [0, 2], sum: 4, inThree: false, broadcast: 0, gathered: undefined },
      { pairRank: 0, pairRanks: [1, 3], sum: 6, inThree: true, broadcast: 10, gathered: [1, 2, 3] },
      { pairRank: 1, pairRanks: [0, 2], sum: 4, inThree: true, broadcast: 10, gathered: [1, 2, 3] },
      { pairRank: 1, pairRanks: [1, 3], sum: 6, inThree: true, broadcast: 10, gathered: [1, 2, 3] },
    ]);
  });

  it("is created from RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT with rank 0 hosting the store", async () => {
    await using run = await launch("envGroup", 3, { storeHost: "rank0" });
    const values = (await run.outcomes()).map((o) => o.value ?? o.error);
    expect(values).toEqual([0, 1, 2].map((rank) => ({ rank, size: 3, localRank: rank, sum: 4.5 })));
  });

  it.skipIf(nativeAddon() === undefined)(
    "uses shared memory between ranks of one host when the native addon is built",
    async () => {
      await using run = await launch("multiHost", 2);
      const values = (await run.outcomes()).map((o) => o.value);
      expect(values[0]).toMatchObject({ transports: ["self", "shm"], allReduceOk: true });
    },
  );

  it("falls back to Unix sockets when TROUPE_NO_NATIVE=1 turns the addon off", async () => {
    await using run = await launch("multiHost", 2, { env: { TROUPE_NO_NATIVE: "1" } });
    const values = (await run.outcomes()).map((o) => o.value);
    expect(values[1]).toMatchObject({ transports: ["unix", "self"], allReduceOk: true });
  });

  it("uses TCP between ranks of one host when TROUPE_DIST_TRANSPORT=tcp", async () => {
    await using run = await launch("multiHost", 2, { env: { TROUPE_DIST_TRANSPORT: "tcp" } });
    const values = (await run.outcomes()).map((o) => o.value);
    expect(values[0]).toMatchObject({ transports: ["self", "tcp"], allReduceOk: true });
  });
});
