import { spawnSync } from "node:child_process";
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { typeStrippingBlocker } from "../../src/runner/type-stripping-blocker.ts";
import { tempDir } from "../helpers.ts";

const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);

/** A project in a fresh directory: `files` maps relative paths to their text. */
function project(files: Record<string, string>): { path: string; [Symbol.dispose](): void } {
  const dir = tempDir();
  const all: Record<string, string> = {
    "package.json": '{ "type": "module" }',
    // Comments and trailing commas, as tsconfig.json allows.
    "tsconfig.json":
      '{\n  // strict imports\n  "compilerOptions": { "verbatimModuleSyntax": true, },\n}',
    ...files,
  };
  for (const [name, text] of Object.entries(all)) {
    const file = join(dir.path, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return dir;
}

const WORKER = [
  'import { helper } from "./helper.ts";',
  'import type { Options } from "./types.ts";',
  'import { join } from "node:path";',
  'export const run = (options: Options): string => join(helper(options.n), "x");',
].join("\n");
const HELPER = "export function helper(n: number): string { return String(n); }";
const TYPES = "export interface Options { readonly n: number }";

/** The blocker of `worker.ts` in a project of a worker, its helper and types, with `files` over them. */
function blockerOf(files: Record<string, string>): string | undefined {
  using dir = project({ "worker.ts": WORKER, "helper.ts": HELPER, "types.ts": TYPES, ...files });
  return typeStrippingBlocker(join(dir.path, "worker.ts"));
}

describe.runIf(stripsTypes)("which .ts workers load by stripping types alone", () => {
  it("passes a module whose imports are all erasable TypeScript, JavaScript or Node's own", () => {
    expect(blockerOf({})).toBeUndefined();
  });

  it.each([
    ["an enum", "export enum Mode { A }", /helper\.ts: .*enum/i],
    [
      "a namespace with values",
      "export namespace N { export const x = 1; }",
      /helper\.ts: .*namespace/,
    ],
    [
      "a parameter property",
      "export class C { constructor(readonly n: number) {} }",
      /helper\.ts: .*parameter property/,
    ],
    [
      "a decorator",
      "const d = (c: unknown) => c;\n@d export class C {}",
      /helper\.ts: uses decorators/,
    ],
    ["`import =`", 'import fs = require("node:fs");', /helper\.ts: .*import equals/],
  ])("names the imported file with %s, which needs a transform", (_, helper, reason) => {
    expect(blockerOf({ "helper.ts": helper })).toMatch(reason);
  });

  it.each([
    ["no extension", 'import { helper } from "./helper";', /"\.\/helper", no such file/],
    ["a .js name for a .ts file", 'import { helper } from "./helper.js";', /no such file/],
    ["a directory", 'import "./lib";', /"\.\/lib", no such file/],
    ["a JSON file", 'import data from "./data.json" with { type: "json" };', /not a JavaScript/],
    ["a subpath import", 'import x from "#internal";', /subpath import/],
    ["a paths alias", 'import x from "@app/util";', /paths alias/],
    ["a .tsx file", 'import "./view.tsx";', /view\.tsx: Node loads only/],
    ["a dynamic import of a transform", 'await import("./enum.ts");', /enum\.ts: /],
  ])("sends an import that tsx would resolve differently to tsx: %s", (_, line, reason) => {
    const blocker = blockerOf({
      "worker.ts": line,
      "lib/index.ts": HELPER,
      "data.json": "{}",
      "view.tsx": "export const v = 1;",
      "enum.ts": "export enum E { A }",
      "tsconfig.json": JSON.stringify({
        compilerOptions: { verbatimModuleSyntax: true, paths: { "@app/*": ["./src/*"] } },
      }),
    });
    expect(blocker).toMatch(reason);
  });

  it("sends an import to tsx that the tsconfig tsx reads (TSX_TSCONFIG_PATH) maps", () => {
    using dir = project({ "worker.ts": 'import "lib";' });
    const tsconfig = join(dir.path, "tsx.json");
    writeFileSync(tsconfig, JSON.stringify({ compilerOptions: { paths: { lib: ["./lib.ts"] } } }));
    const before = process.env.TSX_TSCONFIG_PATH;
    process.env.TSX_TSCONFIG_PATH = tsconfig;
    try {
      expect(typeStrippingBlocker(join(dir.path, "worker.ts"))).toMatch(
        /"lib", a tsconfig paths alias/,
      );
    } finally {
      if (before === undefined) delete process.env.TSX_TSCONFIG_PATH;
      else process.env.TSX_TSCONFIG_PATH = before;
    }
  });

  it("sends a project without verbatimModuleSyntax to tsx: an import may name only types", () => {
    expect(blockerOf({ "tsconfig.json": "{}" })).toMatch(
      /worker\.ts: its tsconfig\.json does not set verbatimModuleSyntax/,
    );
  });

  it("reads verbatimModuleSyntax from the tsconfig a project's tsconfig extends", () => {
    const blocker = blockerOf({
      "base.json": '{ "compilerOptions": { "verbatimModuleSyntax": true } }',
      "tsconfig.json": '{ "extends": "./base", "compilerOptions": { "strict": true } }',
    });
    expect(blocker).toBeUndefined();
  });

  it("sends a worker to tsx when its package.json cannot be read, rather than throwing", () => {
    expect(blockerOf({ "package.json": "{ not json" })).toMatch(/worker\.ts: the check failed: /);
  });

  it("sends a .ts file outside a module package to tsx, which decides its format", () => {
    expect(blockerOf({ "package.json": "{}" })).toMatch(/"type": "module"/);
  });

  it("follows imports through a JavaScript file of the project", () => {
    const blocker = blockerOf({
      "worker.ts": 'import "./plain.js";',
      "plain.js": 'import "./enum.ts";',
      "enum.ts": "export enum E { A }",
    });
    expect(blocker).toMatch(/enum\.ts: .*enum/);
  });

  it("cannot follow an import() whose specifier is computed", () => {
    const blocker = blockerOf({
      "worker.ts": 'const name = "./enum.ts";\nawait import(name);',
      "enum.ts": "export enum E { A }",
    });
    expect(blocker).toBeUndefined();
  });

  it("checks a file again once a file it read has changed", () => {
    using dir = project({ "worker.ts": WORKER, "helper.ts": HELPER, "types.ts": TYPES });
    const worker = join(dir.path, "worker.ts");
    expect(typeStrippingBlocker(worker)).toBeUndefined();
    const helper = join(dir.path, "helper.ts");
    writeFileSync(helper, "export enum Helper { A }");
    // A later modification time, whatever the file system's resolution.
    utimesSync(helper, new Date(), new Date(Date.now() + 5000));
    expect(typeStrippingBlocker(worker)).toMatch(/helper\.ts: /);
  });
});

describe.runIf(stripsTypes)("the check itself", () => {
  it("loads without tsx and keeps Node's experimental warning about stripTypeScriptTypes out of the log", () => {
    const blocker = new URL("../../src/runner/type-stripping-blocker.ts", import.meta.url).href;
    const worker = new URL("../../bench/workers/echo.ts", import.meta.url).pathname;
    const script = `const { typeStrippingBlocker } = await import(${JSON.stringify(blocker)});
      console.log(String(typeStrippingBlocker(${JSON.stringify(worker)})));`;
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(out.stderr).toBe("");
    expect(out.stdout).toBe("undefined\n");
  });
});

describe.runIf(!stripsTypes)("a .ts worker on a Node that does not strip types", () => {
  it("always needs tsx", () => {
    expect(blockerOf({})).toBe(
      `Node ${process.version} does not strip TypeScript types by default`,
    );
  });
});
