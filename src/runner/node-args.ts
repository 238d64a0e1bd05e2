import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidWorkerError } from "../errors.ts";
import { typeStrippingBlocker } from "./type-stripping-blocker.ts";

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * Preloaded by ranks that strip types natively: Node's compile cache keeps each file's stripped
 * code, so a rank does not load the stripper (about 40 ms) for files an earlier rank stripped.
 * It honours NODE_COMPILE_CACHE (where) and NODE_DISABLE_COMPILE_CACHE (off).
 */
export const COMPILE_CACHE_PRELOAD =
  'data:text/javascript,import m from "node:module";m.enableCompileCache?.()';

/** The rank entry file next to this module: `.ts` when troupe runs from source, `.js` when built. */
export function rankEntry(): string {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return fileURLToPath(new URL(`../worker/entry${ext}`, import.meta.url));
}

/**
 * Node flags for a rank. None when the entry and the worker module are JavaScript. When either is
 * TypeScript: Node's own type stripping where it loads them and all they import as they are
 * (see {@link typeStrippingBlocker}), else tsx's loader.
 */
export function rankNodeArgs(entry: string, workerUrl: string): string[] {
  const url = new URL(workerUrl);
  if (!TYPESCRIPT.test(entry) && !TYPESCRIPT.test(url.pathname)) return [];
  const blocker = nativeBlocker(entry, url);
  if (blocker === undefined) return ["--import", COMPILE_CACHE_PRELOAD];
  return ["--import", tsxLoader(url, blocker)];
}

/** Why the rank cannot load `entry` and the worker module without tsx, if it cannot. */
function nativeBlocker(entry: string, worker: URL): string | undefined {
  const fromEntry = TYPESCRIPT.test(entry) ? typeStrippingBlocker(entry) : undefined;
  if (fromEntry !== undefined || !TYPESCRIPT.test(worker.pathname)) return fromEntry;
  if (worker.protocol !== "file:") return `${worker.href} is not a file`;
  return typeStrippingBlocker(fileURLToPath(worker));
}

function tsxLoader(workerUrl: URL, blocker: string): string {
  for (const base of [import.meta.url, workerUrl]) {
    try {
      return pathToFileURL(createRequire(base).resolve("tsx")).href;
    } catch {
      // try the next place
    }
  }
  throw new InvalidWorkerError(
    `The worker module ${workerUrl.protocol === "file:" ? fileURLToPath(workerUrl) : workerUrl.href} is TypeScript that ranks load with tsx (${blocker}); install it (npm install tsx) or point \`worker\` at the compiled .js file`,
  );
}
