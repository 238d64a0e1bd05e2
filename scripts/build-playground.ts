/**
 * `npm run build`'s second step: bundles the playground page's script (src/app/playground/page)
 * into dist/app/playground/page.js, beside the compiled module that inlines it into the page.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { bundlePage } from "../src/app/playground/bundle-page.ts";
import { PAGE_SCRIPT_FILE } from "../src/app/playground/page-script.ts";

const outDir = new URL("../dist/app/playground/", import.meta.url);
mkdirSync(outDir, { recursive: true });
const script = bundlePage();
writeFileSync(new URL(PAGE_SCRIPT_FILE, outDir), script);
console.log(`dist/app/playground/${PAGE_SCRIPT_FILE}: ${(script.length / 1024).toFixed(1)} KiB`);
