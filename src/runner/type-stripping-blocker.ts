/**
 * Decides whether a rank can load a TypeScript file, and everything it imports, with Node's own
 * type stripping (Node 22.18+, 23.6+, 24) instead of booting tsx, which costs every rank a few
 * hundred milliseconds. Stripping only erases types; whatever tsx would do beyond that must not be
 * needed. So the check walks the static import graph from the file (through JavaScript files too,
 * outside node_modules) and gives up, naming why, on:
 * syntax that needs a transform (enums, namespaces, parameter properties, `import =`, which
 * `stripTypeScriptTypes` rejects); decorators, and `using` where this Node lacks it, which
 * stripping passes through but Node cannot run; an import that tsx would resolve and Node would
 * not (no extension, `.js` naming a `.ts` file, a directory, a tsconfig `paths` alias, a
 * `#subpath`, a non-JavaScript file); a tsconfig without `verbatimModuleSyntax` (an import
 * without `type` may then name only types, which tsx drops and Node would look up); a `.ts` file
 * outside a `"type": "module"` package, a `.cts` or `.tsx` file, or one under node_modules. An
 * `import()` with a computed specifier cannot be followed: a TypeScript module loaded that way
 * must be strippable too.
 */
import { readFileSync, statSync } from "node:fs";
import * as nodeModule from "node:module";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { scanImports } from "../internal/scan-imports.ts";

type Strip = (code: string, options?: { mode?: "strip" }) => string;

/** `module.stripTypeScriptTypes` (Node 22.13+, 23.2+), where this Node strips types by default. */
const strip: Strip | undefined = (process.features as { typescript?: string | false }).typescript
  ? (nodeModule as { stripTypeScriptTypes?: Strip }).stripTypeScriptTypes
  : undefined;

const TYPESCRIPT_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx"]);
const JAVASCRIPT_EXTENSIONS = new Set([".js", ".mjs"]);

/** Whether this Node runs `using` declarations (V8 12.x does not; esbuild lowers them). */
const USING_SUPPORTED = (() => {
  try {
    new Function("{ using resource = null; }");
    return true;
  } catch {
    return false;
  }
})();

interface Verdict {
  readonly blocker: string | undefined;
  /** Every file the verdict was read from, with its modification time then. */
  readonly inputs: ReadonlyMap<string, number>;
}

const verdicts = new Map<string, Verdict>();

/**
 * Why Node cannot load the TypeScript file at `path` and its imports by stripping types alone,
 * or `undefined` when it can. Remembered per file until one of the files it read changes.
 */
export function typeStrippingBlocker(path: string): string | undefined {
  if (strip === undefined) {
    return `Node ${process.version} does not strip TypeScript types by default`;
  }
  const cached = verdicts.get(path);
  if (cached !== undefined && unchanged(cached.inputs)) return cached.blocker;
  const walk = new GraphWalk(strip);
  let blocker: string | undefined;
  try {
    blocker = walk.check(path);
  } catch (error) {
    // An unreadable file or a malformed package.json: tsx, which reports it in context.
    blocker = `${displayPath(path)}: the check failed: ${firstLine(error)}`;
  }
  const verdict = { blocker, inputs: walk.inputs };
  verdicts.set(path, verdict);
  return verdict.blocker;
}

function unchanged(inputs: ReadonlyMap<string, number>): boolean {
  for (const [file, mtime] of inputs) if (modified(file) !== mtime) return false;
  return true;
}

function modified(file: string): number | undefined {
  return statSync(file, { throwIfNoEntry: false })?.mtimeMs;
}

interface CompilerOptions {
  readonly verbatimModuleSyntax?: boolean;
  readonly paths?: Record<string, unknown>;
  /** Absolute. */
  readonly baseUrl?: string;
}

class GraphWalk {
  readonly inputs = new Map<string, number>();
  private readonly tsconfigs = new Map<string, CompilerOptions | undefined>();
  private readonly packageTypes = new Map<string, string | undefined>();
  private readonly strip: Strip;
  private tsxConfig: CompilerOptions | undefined;

  // Not a parameter property: this file must itself load by stripping types.
  constructor(strip: Strip) {
    this.strip = strip;
  }

  check(root: string): string | undefined {
    const seen = new Set<string>();
    const pending = [resolve(root)];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const blocker = this.checkFile(file, pending);
      if (blocker !== undefined) return blocker;
    }
    return undefined;
  }

  /**
   * Checks one file, adding the files it imports that Node would load differently from tsx to
   * `pending`: TypeScript, and JavaScript outside node_modules (which may import TypeScript).
   */
  private checkFile(file: string, pending: string[]): string | undefined {
    const name = displayPath(file);
    const extension = extname(file);
    const typescript = TYPESCRIPT_EXTENSIONS.has(extension);
    if (extension === ".tsx" || extension === ".cts") {
      return `${name}: Node loads only .ts and .mts files natively`;
    }
    if (typescript && file.split(sep).includes("node_modules")) {
      return `${name}: Node does not strip types under node_modules`;
    }
    if (extension === ".ts" && this.packageType(dirname(file)) !== "module") {
      return `${name}: not in a package with "type": "module", so tsx decides its module format`;
    }
    const options = this.compilerOptions(dirname(file)) ?? {};
    if (typescript && options.verbatimModuleSyntax !== true) {
      return `${name}: its tsconfig.json does not set verbatimModuleSyntax, so an import without \`type\` may name only types`;
    }
    let code = this.read(file);
    try {
      if (typescript) code = quietly(() => this.strip(code));
    } catch (error) {
      return `${name}: ${firstLine(error)}`;
    }
    const scan = scanImports(code);
    if (scan.decorators) return `${name}: uses decorators, which Node does not run`;
    if (scan.usingDeclarations && !USING_SUPPORTED) {
      return `${name}: uses \`using\` declarations, which Node ${process.version} does not run`;
    }
    for (const specifier of scan.specifiers) {
      const target = this.resolveImport(specifier, file, options);
      if (target.blocker !== undefined) return `${name}: ${target.blocker}`;
      if (target.next !== undefined) pending.push(target.next);
    }
    return undefined;
  }

  private resolveImport(
    specifier: string,
    from: string,
    options: CompilerOptions,
  ): { blocker?: string; next?: string } {
    const quoted = JSON.stringify(specifier);
    if (/^(\.{0,2}\/|file:)/.test(specifier)) {
      const url = new URL(specifier, pathToFileURL(from));
      url.search = "";
      url.hash = "";
      const target = fileURLToPath(url);
      if (statSync(target, { throwIfNoEntry: false })?.isFile() !== true) {
        return { blocker: `imports ${quoted}, no such file (tsx would look for another)` };
      }
      const extension = extname(target);
      if (TYPESCRIPT_EXTENSIONS.has(extension)) return { next: target };
      if (extension === ".cjs" || target.split(sep).includes("node_modules")) return {};
      if (JAVASCRIPT_EXTENSIONS.has(extension)) return { next: target };
      return { blocker: `imports ${quoted}, which is not a JavaScript or TypeScript module` };
    }
    if (/^[a-z][a-z\d+.-]*:/i.test(specifier) || nodeModule.isBuiltin(specifier)) return {};
    if (specifier.startsWith("#")) {
      return { blocker: `imports ${quoted}, a subpath import that tsx may map to TypeScript` };
    }
    // The file's own tsconfig, and the one tsx would use (the working directory's).
    for (const config of [options, this.tsxOptions()]) {
      const alias = aliasOf(specifier, config);
      if (alias !== undefined) return { blocker: `imports ${quoted}, ${alias}` };
    }
    let resolved: string;
    try {
      resolved = nodeModule.createRequire(from).resolve(specifier);
    } catch {
      // Only ESM conditions resolve it: a package, which Node loads like tsx does.
      return {};
    }
    if (TYPESCRIPT_EXTENSIONS.has(extname(resolved))) {
      return { blocker: `imports ${quoted}, a package whose entry is TypeScript` };
    }
    return {};
  }

  /** The tsconfig options tsx would read: TSX_TSCONFIG_PATH, or the working directory's. */
  private tsxOptions(): CompilerOptions {
    const path = process.env.TSX_TSCONFIG_PATH;
    this.tsxConfig ??=
      (path ? this.tsconfig(resolve(path), 0) : this.compilerOptions(process.cwd())) ?? {};
    return this.tsxConfig;
  }

  /** The nearest package.json's `type`, searching up from `dir`. */
  private packageType(dir: string): string | undefined {
    if (this.packageTypes.has(dir)) return this.packageTypes.get(dir);
    const file = join(dir, "package.json");
    let type: string | undefined;
    if (modified(file) !== undefined) {
      const json = JSON.parse(this.read(file)) as { type?: unknown };
      type = typeof json.type === "string" ? json.type : "commonjs";
    } else {
      const parent = dirname(dir);
      type = parent === dir ? undefined : this.packageType(parent);
    }
    this.packageTypes.set(dir, type);
    return type;
  }

  /** The options of the nearest tsconfig.json, searching up from `dir`, with what it extends. */
  private compilerOptions(dir: string): CompilerOptions | undefined {
    if (this.tsconfigs.has(dir)) return this.tsconfigs.get(dir);
    const file = join(dir, "tsconfig.json");
    let options: CompilerOptions | undefined;
    if (modified(file) !== undefined) options = this.tsconfig(file, 0);
    else {
      const parent = dirname(dir);
      options = parent === dir ? undefined : this.compilerOptions(parent);
    }
    this.tsconfigs.set(dir, options);
    return options;
  }

  private tsconfig(file: string, depth: number): CompilerOptions {
    let json: { extends?: unknown; compilerOptions?: Record<string, unknown> };
    try {
      json = JSON.parse(withoutComments(this.read(file))) as typeof json;
    } catch {
      return {};
    }
    const bases = typeof json.extends === "string" ? [json.extends] : json.extends;
    let options: CompilerOptions = {};
    if (Array.isArray(bases) && depth < 16) {
      for (const base of bases) {
        const path = typeof base === "string" ? extendedTsconfig(base, dirname(file)) : undefined;
        if (path !== undefined) options = { ...options, ...this.tsconfig(path, depth + 1) };
      }
    }
    const own = json.compilerOptions ?? {};
    return {
      ...options,
      ...(typeof own.verbatimModuleSyntax === "boolean"
        ? { verbatimModuleSyntax: own.verbatimModuleSyntax }
        : {}),
      ...(typeof own.paths === "object" && own.paths !== null
        ? { paths: own.paths as Record<string, unknown> }
        : {}),
      ...(typeof own.baseUrl === "string" ? { baseUrl: resolve(dirname(file), own.baseUrl) } : {}),
    };
  }

  private read(file: string): string {
    const text = readFileSync(file, "utf8");
    this.inputs.set(file, modified(file) as number);
    return text;
  }
}

/** The file a tsconfig `extends` names: a path, or a package's tsconfig. */
function extendedTsconfig(base: string, dir: string): string | undefined {
  if (/^\.{0,2}\//.test(base)) {
    const path = resolve(dir, base);
    return modified(path) === undefined && modified(`${path}.json`) !== undefined
      ? `${path}.json`
      : path;
  }
  const require = nodeModule.createRequire(join(dir, "tsconfig.json"));
  for (const candidate of [base, `${base}/tsconfig.json`]) {
    try {
      return require.resolve(candidate);
    } catch {
      // try the next form
    }
  }
  return undefined;
}

/** How `options` would map the bare `specifier` (a `paths` alias, or a file under `baseUrl`), if at all. */
function aliasOf(specifier: string, options: CompilerOptions): string | undefined {
  if (options.paths !== undefined && Object.keys(options.paths).some(matches(specifier))) {
    return "a tsconfig paths alias";
  }
  const base = options.baseUrl;
  if (base !== undefined && readdirHas(base, specifier.split("/")[0] as string)) {
    return "which tsx may resolve from baseUrl";
  }
  return undefined;
}

/** Whether a tsconfig `paths` key (`"@app/*"`, `"troupe"`) matches `specifier`. */
function matches(specifier: string): (pattern: string) => boolean {
  return (pattern) => {
    const star = pattern.indexOf("*");
    if (star === -1) return pattern === specifier;
    return (
      specifier.length >= pattern.length - 1 &&
      specifier.startsWith(pattern.slice(0, star)) &&
      specifier.endsWith(pattern.slice(star + 1))
    );
  };
}

function readdirHas(dir: string, name: string): boolean {
  return modified(join(dir, name)) !== undefined || modified(join(dir, `${name}.ts`)) !== undefined;
}

/** JSON with comments and trailing commas, as tsconfig.json allows, made plain JSON. */
function withoutComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      out += text.slice(i, end + 1);
      i = end;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end - 1;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 1;
    } else {
      if (c === "}" || c === "]") out = out.replace(/,\s*$/, "");
      out += c;
    }
  }
  return out;
}

/**
 * Runs `run` without the one-time ExperimentalWarning of `stripTypeScriptTypes`: the check is
 * troupe's business, and the warning would land in every application's log.
 */
function quietly<T>(run: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    if (!text.startsWith("stripTypeScriptTypes")) {
      (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
    }
  }) as typeof process.emitWarning;
  try {
    return run();
  } finally {
    process.emitWarning = emit;
  }
}

function displayPath(file: string): string {
  const path = relative(process.cwd(), file);
  return path.startsWith("..") ? file : path;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] as string;
}
