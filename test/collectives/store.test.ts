import { describe, expect, it } from "vitest";
import { TCPStore } from "../../src/collectives/index.ts";
import { StoreClient } from "../../src/collectives/store/store-client.ts";

describe("TCPStore", () => {
  it("answers a get once another client sets the key, and adds atomically", async () => {
    await using store = await TCPStore.listen({ host: "127.0.0.1" });
    const options = { host: "127.0.0.1", port: store.port, timeout: 5_000 };
    const a = await StoreClient.connect(options);
    const b = await StoreClient.connect(options);
    try {
      const pending = a.get("key");
      await b.set("key", "value");
      expect(await pending).toBe("value");
      expect(await Promise.all([a.add("n", 1), b.add("n", 1)])).toEqual(
        expect.arrayContaining([1, 2]),
      );
    } finally {
      a.close();
      b.close();
    }
  });

  it("fails to connect with STORE_ERROR naming the address when nothing listens", async () => {
    const store = await TCPStore.listen({ host: "127.0.0.1" });
    const port = store.port;
    await store.close();
    await expect(
      StoreClient.connect({ host: "127.0.0.1", port, timeout: 50 }),
    ).rejects.toMatchObject({
      code: "STORE_ERROR",
      message: expect.stringContaining(`127.0.0.1:${port}`),
    });
  });
});
