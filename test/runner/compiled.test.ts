import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type * as Troupe from "../../src/index.ts";
import { collect } from "../helpers.ts";

const built = new URL("../../dist/index.js", import.meta.url);

describe.skipIf(!existsSync(built))("the compiled package", () => {
  it("runs a compiled .js worker from the built runner, without the TypeScript loader", async () => {
    const { DistributedRunner } = (await import(built.href)) as typeof Troupe;
    await using runner = new DistributedRunner({
      worker: new URL("../fixtures/compiled-worker.js", import.meta.url),
      worldSize: 2,
      gpus: [],
    });
    await runner.start();
    const events = await collect(runner.stream({ value: 7 }));
    expect(events).toEqual([{ echo: 7 }, { execArgv: [], rank: 0 }]);
  });
});
