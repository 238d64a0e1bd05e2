import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "examples/**/*.test.ts"],
    // Integration tests start real rank processes; on a 2-core machine more parallel
    // files only adds contention.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
