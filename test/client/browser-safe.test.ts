import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const entry = fileURLToPath(new URL("../../src/client/index.ts", import.meta.url));

describe("the troupe/client bundle", () => {
  it("bundles for the browser without a Node built-in anywhere in its imports", async () => {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((path) => path.includes("eventsource-parser"))).toBe(true);
    const imports = Object.values(result.metafile.inputs).flatMap((input) =>
      input.imports.map((i) => i.path),
    );
    expect(imports.filter((path) => path.startsWith("node:") || !path.includes("/"))).toEqual([]);
    const code = result.outputFiles[0]?.text ?? "";
    expect(code).not.toMatch(/\b(process|Buffer)\./);
  });

  it("fails to bundle a module that imports a Node built-in, so the check above can fail", async () => {
    await expect(
      build({
        stdin: {
          contents: 'import "node:fs"; export * from "./index.ts";',
          resolveDir: fileURLToPath(new URL("../../src/client/", import.meta.url)),
          loader: "ts",
        },
        bundle: true,
        platform: "browser",
        write: false,
        logLevel: "silent",
      }),
    ).rejects.toThrow(/node:fs/);
  });
});
