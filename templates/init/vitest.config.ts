import ts from "typescript";
import { defineConfig, type Plugin } from "vitest/config";

/**
 * Vitest strips TypeScript with Oxc, which leaves standard (TC39) decorators such as troupe's
 * `@endpoint` in place, where Node cannot run them yet. This lowers the files that use one with
 * TypeScript itself; `troupe run` (tsx) and `tsc` do the same on their own.
 */
function standardDecorators(): Plugin {
  return {
    name: "standard-decorators",
    enforce: "pre",
    transform(code, id) {
      const file = id.split("?")[0] ?? id;
      if (!file.endsWith(".ts") || file.includes("/node_modules/") || !/^\s*@\w/m.test(code)) {
        return undefined;
      }
      const out = ts.transpileModule(code, {
        fileName: file,
        compilerOptions: {
          target: ts.ScriptTarget.ES2023,
          module: ts.ModuleKind.ESNext,
          verbatimModuleSyntax: true,
          sourceMap: true,
        },
      });
      return {
        code: out.outputText.replace(/\/\/# sourceMappingURL=.*$/m, ""),
        map: out.sourceMapText,
      };
    },
  };
}

export default defineConfig({
  plugins: [standardDecorators()],
  test: {
    // Each test file starts real rank processes.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
