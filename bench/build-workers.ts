import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import ts from "typescript";

const SOURCES = new URL("./workers/", import.meta.url);
/** Where the compiled workers go: `../../dist/index.js` from here is the package's build. */
const OUTPUT = new URL("../build/bench/", import.meta.url);

/** The URL of bench worker `name` (`"echo"`): compiled JS, or its TypeScript source (tsx). */
export function workerUrl(name: string, kind: "js" | "ts" = "js"): URL {
  return kind === "js" ? new URL(`${name}.js`, OUTPUT) : new URL(`${name}.ts`, SOURCES);
}

/**
 * Compiles `bench/workers/*.ts` to `build/bench/*.js` file by file. `tsc -p` cannot: the workers'
 * `import type` of `../../src` puts src/ in the program, outside this output's root (TS6059).
 * Types are checked by the project's `tsc --noEmit`, which includes bench/.
 */
export async function buildWorkers(): Promise<URL[]> {
  await mkdir(OUTPUT, { recursive: true });
  const built: URL[] = [];
  for (const name of await readdir(SOURCES)) {
    if (!name.endsWith(".ts")) continue;
    const source = await readFile(new URL(name, SOURCES), "utf8");
    const { outputText } = ts.transpileModule(source, {
      fileName: name,
      compilerOptions: {
        target: ts.ScriptTarget.ES2023,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
        rewriteRelativeImportExtensions: true,
      },
    });
    const target = new URL(name.replace(/\.ts$/, ".js"), OUTPUT);
    await writeFile(target, outputText);
    built.push(target);
  }
  return built;
}
