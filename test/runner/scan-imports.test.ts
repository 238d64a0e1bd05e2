import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { scanImports } from "../../src/internal/scan-imports.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The repository's own TypeScript files, outside dependencies and build output. */
function sources(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith(".") || ["node_modules", "dist", "build"].includes(entry.name)) {
      return [];
    }
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.m?ts$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

describe("scanImports", () => {
  it("finds the same imports as TypeScript's own scanner in every module of this repository", () => {
    const files = sources();
    expect(files.length).toBeGreaterThan(100);
    for (const file of files) {
      // Types erased as Node would, keeping every import that has no `type`.
      const code = ts.transpileModule(readFileSync(file, "utf8"), {
        fileName: file,
        compilerOptions: {
          target: ts.ScriptTarget.ESNext,
          module: ts.ModuleKind.ESNext,
          verbatimModuleSyntax: true,
        },
      }).outputText;
      const expected = ts.preProcessFile(code, true, false).importedFiles.map((f) => f.fileName);
      expect(scanImports(code).specifiers.sort(), file).toEqual(expected.sort());
    }
  });

  it("skips specifiers and at signs inside comments, strings, templates and regular expressions", () => {
    const code = [
      '// import "./comment.ts"',
      '/* @decorator import("./block.ts") */',
      'const s = \'import "./string.ts"\' + "@";',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the code under test holds a template
      "const t = `import ${'\"./template.ts\"'} ${`@${1}`}`;",
      'const r = /import "\\.\\/regex.ts"[/@\']/g.test(s) ? 1 / 2 : 3;',
      'import.meta.resolve("./meta.ts");',
      'loader.import("./method.ts");',
      'const o = { import: "./property.ts" };',
      'export { r as "import" };',
      'import "./real.ts";',
    ].join("\n");
    expect(scanImports(code)).toEqual({
      specifiers: ["./real.ts"],
      computedImports: 0,
      decorators: false,
      usingDeclarations: false,
    });
  });

  it("finds static imports, re-exports and import() with a literal, and counts computed ones", () => {
    const code = [
      'import a, { b as c } from "./a.ts";',
      'import * as ns from "./ns.ts";',
      'import { from } from "./from.ts";',
      'export * from "./star.ts";',
      'export * as all from "./all.ts";',
      'export { x } from "./x.ts";',
      "export { c };",
      'const m = await import("./dynamic.ts", { with: {} });',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the code under test holds a template
      "const n = await import(`./${name}.ts`);",
    ].join("\n");
    const scan = scanImports(code);
    expect(scan.specifiers).toEqual([
      "./a.ts",
      "./ns.ts",
      "./from.ts",
      "./star.ts",
      "./all.ts",
      "./x.ts",
      "./dynamic.ts",
    ]);
    expect(scan.computedImports).toBe(1);
  });

  it("tells decorators and using declarations from names that look like them", () => {
    expect(scanImports("@sealed class A {}").decorators).toBe(true);
    expect(scanImports("class A { @log m() {} }").decorators).toBe(true);
    expect(scanImports('const email = "a@b.c";').decorators).toBe(false);
    expect(scanImports("{ using handle = open(); }").usingDeclarations).toBe(true);
    expect(scanImports("await using handle = open();").usingDeclarations).toBe(true);
    expect(scanImports("for (using x of xs) {}").usingDeclarations).toBe(true);
    expect(scanImports("const using = 1; using(2); using.x = 3;").usingDeclarations).toBe(false);
  });
});
