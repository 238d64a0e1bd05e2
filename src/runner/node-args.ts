import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidWorkerError } from "../errors.ts";
import { typeStrippingBlocker } from "./type-stripping-blocker.ts";

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * Where ranks keep Node's compile cache unless their environment names a place: the directory
 * Node's own `module.enableCompileCache()` picks by default.
 */
export const RANK_COMPILE_CACHE = join(tmpdir(), "node-compile-cache");

/** The rank entry file next to this module: `.ts` when troupe runs from source, `.js` when built. */
export function rankEntry(): string {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return fileURLToPath(new URL(`../worker/entry${ext}`, import.meta.url));
}

/**
 * Node flags for a rank. None when the entry and the worker module are JavaScript, or TypeScript
 * that Node's own type stripping loads with all it imports as they are (see
 * {@link typeStrippingBlocker}); else tsx's loader.
 */
export function rankNodeArgs(entry: string, workerUrl: string): string[] {
  const url = new URL(workerUrl);
  if (!TYPESCRIPT.test(entry) && !TYPESCRIPT.test(url.pathname)) return [];
  const blocker = nativeBlocker(entry, url);
  if (blocker === undefined) return [];
  return ["--import", tsxLoader(url, blocker)];
}

/**
 * What a rank's environment gets on top of `env` (this process's with the runner's `env` option
 * applied) so that its Node starts sooner. A variable `env` already has is left as it is.
 *
 * - `NODE_COMPILE_CACHE` ({@link RANK_COMPILE_CACHE}): Node's compile cache (22.1+; older ones
 *   ignore it), so a rank reuses the compiled code of troupe, the worker and what they import, and
 *   the stripped code of `.ts` files (the stripper itself then stays unloaded), that an earlier
 *   rank compiled. Not set where `NODE_DISABLE_COMPILE_CACHE` turns the cache off.
 * - `MSGPACKR_NATIVE_ACCELERATION_DISABLED=true`: a rank decodes only what the runner sends it,
 *   where msgpackr's native string extractor gains nothing and loading it costs a rank ~10 ms.
 */
export function rankStartEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const extra: Record<string, string> = {};
  if (env.NODE_COMPILE_CACHE === undefined && env.NODE_DISABLE_COMPILE_CACHE === undefined) {
    extra.NODE_COMPILE_CACHE = RANK_COMPILE_CACHE;
  }
  if (env.MSGPACKR_NATIVE_ACCELERATION_DISABLED === undefined) {
    extra.MSGPACKR_NATIVE_ACCELERATION_DISABLED = "true";
  }
  return extra;
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
