import { existsSync, readFileSync } from "node:fs";
import { bundlePage, PAGE_ENTRY } from "./bundle-page.ts";

/** The built page script's file name, beside this module in the compiled package. */
export const PAGE_SCRIPT_FILE = "page.js";

let script: string | undefined;

/**
 * The page's script, read or bundled once per process. The compiled package reads the bundle
 * `npm run build` wrote beside this module. Run from sources (tsx, the tests), it bundles
 * page/main.ts itself rather than read a dist/ copy, which may be older than the sources.
 */
export function pageScript(): string {
  script ??= checked(load());
  return script;
}

function load(): string {
  const built = new URL(`./${PAGE_SCRIPT_FILE}`, import.meta.url);
  if (existsSync(built)) return readFileSync(built, "utf8");
  if (existsSync(PAGE_ENTRY)) return bundlePage();
  throw new Error(`The playground's script (${PAGE_SCRIPT_FILE}) was not built: run npm run build`);
}

function checked(text: string): string {
  if (/<\/script/i.test(text)) {
    throw new Error("The playground's inline script would close its own tag");
  }
  return text;
}
