import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as esbuild from "esbuild";

/** The page script's entry module; only a source checkout has it (the package ships the bundle). */
export const PAGE_ENTRY = new URL("./page/main.ts", import.meta.url);

/**
 * The page's script, bundled from its TypeScript sources (page/*.ts and the `troupe/client`
 * sources they import) into one minified IIFE for browsers. `npm run build` writes it beside the
 * compiled module; an app run from sources bundles it on first use.
 *
 * esbuild comes with tsx, a dependency; it is loaded here only, so an app that serves the built
 * script never loads it. Synchronous, so that `playgroundHtml()` stays a plain function.
 */
export function bundlePage(): string {
  const { buildSync } = createRequire(import.meta.url)("esbuild") as typeof esbuild;
  const result = buildSync({
    entryPoints: [fileURLToPath(PAGE_ENTRY)],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "silent",
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error("esbuild wrote no playground script");
  return output.text;
}
