import type * as Troupe from "../../src/index.ts";

/**
 * The compiled package, `../../dist/index.js`: the same file from this source and from its
 * compiled copy in `build/bench/`, so ranks run the build without the TypeScript loader. It is
 * imported by URL rather than statically so that `tsc --noEmit` checks this folder before `dist/`
 * exists (the types are the source's); and it must be the copy the runner's rank entry loads, or
 * the worker's results would reach no runtime.
 */
export const { DistributedWorker } = (await import(
  new URL("../../dist/index.js", import.meta.url).href
)) as typeof Troupe;
