import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type * as Troupe from "../../src/index.ts";
import { RANK_COMPILE_CACHE } from "../../src/runner/node-args.ts";
import type { LoadingReport } from "../fixtures/loading/strippable-worker.ts";

const built = new URL("../../dist/index.js", import.meta.url);
const strippable = new URL("../fixtures/loading/strippable-worker.ts", import.meta.url);
const needsTransform = new URL("../fixtures/loading/transform-worker.ts", import.meta.url);
/** Node 22.18+, 23.6+ and 24 strip TypeScript types by default. */
const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);

/** What rank 0 of a built runner with `worker` returns for the input 7. */
async function report(worker: URL): Promise<LoadingReport> {
  const { DistributedRunner } = (await import(built.href)) as typeof Troupe;
  await using runner = new DistributedRunner<Troupe.DistributedWorker<number, LoadingReport>>({
    worker,
    worldSize: 2,
    gpus: [],
  });
  await runner.start();
  return await runner.invoke(7);
}

const usesTsx = (execArgv: readonly string[]) => execArgv.some((arg) => /[/\\]tsx[/\\]/.test(arg));

// The built runner's rank entry is JavaScript, so the worker's own files decide the loader.
describe.skipIf(!existsSync(built))("how ranks load a .ts worker", () => {
  it.runIf(stripsTypes)(
    "loads a worker that needs no transform, and the .ts file it imports, without tsx where Node strips types, with Node's compile cache on",
    async () => {
      const { value, execArgv, compileCache } = await report(strippable);
      expect(value).toBe(14);
      expect(execArgv).toEqual([]);
      // Node keeps each Node version's cache in its own folder under the one it was given.
      expect(compileCache?.startsWith(`${RANK_COMPILE_CACHE}/v`)).toBe(true);
    },
  );

  it.runIf(!stripsTypes)(
    "loads a .ts worker with tsx where Node does not strip types",
    async () => {
      const { value, execArgv } = await report(strippable);
      expect(value).toBe(14);
      expect(usesTsx(execArgv)).toBe(true);
    },
  );

  it("loads a worker whose syntax needs a transform (a parameter property) with tsx", async () => {
    const { value, execArgv } = await report(needsTransform);
    expect(value).toBe(21);
    expect(usesTsx(execArgv)).toBe(true);
  });
});
