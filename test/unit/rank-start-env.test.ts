import { describe, expect, it } from "vitest";
import { RANK_COMPILE_CACHE, rankStartEnv } from "../../src/runner/node-args.ts";

describe("rankStartEnv", () => {
  it("turns on Node's compile cache in the OS temp directory and leaves msgpackr's native extractor unloaded", () => {
    expect(rankStartEnv({ PATH: "/bin" })).toEqual({
      NODE_COMPILE_CACHE: RANK_COMPILE_CACHE,
      MSGPACKR_NATIVE_ACCELERATION_DISABLED: "true",
    });
    expect(RANK_COMPILE_CACHE).toMatch(/node-compile-cache$/);
  });

  it("leaves a compile cache directory the environment names, and sets none where the cache is turned off", () => {
    expect(rankStartEnv({ NODE_COMPILE_CACHE: "/srv/cache" })).not.toHaveProperty(
      "NODE_COMPILE_CACHE",
    );
    expect(rankStartEnv({ NODE_DISABLE_COMPILE_CACHE: "1" })).not.toHaveProperty(
      "NODE_COMPILE_CACHE",
    );
  });

  it("leaves msgpackr's switch as the environment sets it", () => {
    expect(rankStartEnv({ MSGPACKR_NATIVE_ACCELERATION_DISABLED: "false" })).toEqual({
      NODE_COMPILE_CACHE: RANK_COMPILE_CACHE,
    });
  });
});
