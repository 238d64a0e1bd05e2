import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { InvalidWorkerError } from "../errors.ts";

const TYPESCRIPT = /\.[cm]?tsx?$/;

/** The rank entry file next to this module: `.ts` when troupe runs from source, `.js` when built. */
export function rankEntry(): string {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return fileURLToPath(new URL(`../worker/entry${ext}`, import.meta.url));
}

/** Node flags for a rank: tsx's loader when the entry or the worker module is TypeScript. */
export function rankNodeArgs(entry: string, workerUrl: string): string[] {
  if (!TYPESCRIPT.test(entry) && !TYPESCRIPT.test(new URL(workerUrl).pathname)) return [];
  return ["--import", tsxLoader(workerUrl)];
}

function tsxLoader(workerUrl: string): string {
  for (const base of [import.meta.url, workerUrl]) {
    try {
      return pathToFileURL(createRequire(base).resolve("tsx")).href;
    } catch {
      // try the next place
    }
  }
  throw new InvalidWorkerError(
    `The worker module ${fileURLToPath(workerUrl)} is TypeScript, which ranks load with tsx; install it (npm install tsx) or point \`worker\` at the compiled .js file`,
  );
}
