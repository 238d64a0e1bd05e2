import ts from "typescript";
import { defineConfig, type Plugin } from "vitest/config";

/**
 * Vite 8 strips TypeScript with Oxc, which lowers only legacy (`experimentalDecorators`)
 * decorators and leaves standard ones in place, where Node 20 cannot parse them. Files that use
 * a decorator are lowered by TypeScript itself first; every other file goes through Oxc as before.
 * (tsx and tsc lower standard decorators themselves.)
 */
function standardDecorators(): Plugin {
  return {
    name: "troupe:standard-decorators",
    enforce: "pre",
    transform(code, id) {
      const file = id.split("?")[0] ?? id;
      if (!file.endsWith(".ts") || file.includes("/node_modules/") || !DECORATOR.test(code)) {
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

/** A decorator: `@name` at a line's start or after whitespace, `{` or `;`, outside comments. */
const DECORATOR = /^[^*/\n]*(?:^|[\s{;])@[A-Za-z_$]/m;

export default defineConfig({
  plugins: [standardDecorators()],
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "examples/**/*.test.ts"],
    // Integration tests start real rank processes; on a 2-core machine more parallel
    // files only adds contention.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
