import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { AppClass } from "../app/index.ts";
import { InvalidArgumentError } from "../errors.ts";

const TYPESCRIPT = /\.[cm]?tsx?$/;

/**
 * Imports the app module at `file` and returns its default export. A TypeScript module gets
 * tsx's loader first, unless this code itself runs as TypeScript (under tsx, or a test runner),
 * in which case a loader is already there and a second one would load a second copy of troupe.
 */
export async function loadApp(file: string, cwd: string): Promise<AppClass> {
  const path = resolve(cwd, file);
  if (TYPESCRIPT.test(path) && !TYPESCRIPT.test(new URL(import.meta.url).pathname)) {
    (await import("tsx/esm/api")).register();
  }
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Outside a `"type": "module"` package tsx loads a .ts file as CommonJS, which cannot share
    // troupe's ES modules.
    const hint = /require/i.test(message)
      ? ' (an app module must be an ES module: name it .mts, or put it in a package with "type": "module")'
      : "";
    throw new InvalidArgumentError(`Could not load the app module ${file}: ${message}${hint}`, {
      cause: error,
    });
  }
  const exported = module.default;
  if (typeof exported !== "function") {
    throw new InvalidArgumentError(
      `Expected the app module ${file} to export an App class as its default export, got ${typeof exported}`,
    );
  }
  return exported as AppClass;
}
