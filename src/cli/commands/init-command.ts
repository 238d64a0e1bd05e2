import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { InvalidArgumentError } from "../../errors.ts";
import type { CliEnvironment } from "../environment.ts";

interface InitFlags {
  readonly force?: boolean;
  readonly troupe?: string;
}

/** src/cli/commands and dist/cli/commands are both three levels below the package root. */
const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TEMPLATE = join(PACKAGE_ROOT, "templates", "init");

/**
 * Template files whose real names npm would not pack (it drops or renames dot-files such as
 * `.gitignore`), stored without the dot.
 */
const RENAMED: Readonly<Record<string, string>> = {
  gitignore: ".gitignore",
  dockerignore: ".dockerignore",
};

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function addInitCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("init")
    .description("Write a small troupe project (a worker, an app, a test, a Dockerfile) into [dir]")
    .argument("[dir]", "where to write it; created when missing", ".")
    .option("--force", "replace files that are there already")
    .option(
      "--troupe <spec>",
      "the package.json spec for troupe (a version, a git URL, file:<tarball>) (default: this troupe's own checkout as file:, or the spec the project it is installed in uses)",
    )
    .action((dir: string, flags: InitFlags) => {
      const cwd = environment.cwd ?? process.cwd();
      const target = resolve(cwd, dir);
      const written = writeProject(target, {
        force: flags.force === true,
        // A relative `file:` path is meant from here, as `npm install` takes it.
        troupe: flags.troupe === undefined ? troupeSpec(target) : rebase(flags.troupe, cwd, target),
      });
      const where = relative(cwd, target) || ".";
      const cd = where === "." ? "" : `cd ${/^[\w./-]+$/.test(where) ? where : `'${where}'`} && `;
      environment.stdout.write(
        `Wrote ${written.join(", ")} in ${where}\nNext: ${cd}npm install && npm test && npm start\n`,
      );
      setExit(0);
    });
}

/** Options of {@link writeProject}. */
export interface ProjectOptions {
  /** Replace files that exist; without it nothing is written when one does. */
  readonly force: boolean;
  /** The package.json spec of the troupe dependency. */
  readonly troupe: string;
}

/**
 * Writes the template's files into `target` (created when missing), the package.json named after
 * the folder, depending on troupe as `options.troupe` and on the versions of zod, pino,
 * TypeScript and vitest troupe itself is tested with. Returns the paths written, relative to
 * `target`.
 */
export function writeProject(target: string, options: ProjectOptions): string[] {
  const files = templateFiles();
  if (!options.force) {
    const existing = files.filter((f) => existsSync(join(target, f.to)));
    if (existing.length > 0) {
      throw new InvalidArgumentError(
        `Refusing to overwrite ${existing.map((f) => f.to).join(", ")} in ${target} (pass --force to replace them)`,
      );
    }
  }
  for (const file of files) {
    const to = join(target, file.to);
    mkdirSync(dirname(to), { recursive: true });
    const text = readFileSync(join(TEMPLATE, file.from), "utf8");
    writeFileSync(to, file.to === "package.json" ? packageJson(text, target, options) : text);
  }
  return files.map((f) => f.to);
}

function templateFiles(): { from: string; to: string }[] {
  return (readdirSync(TEMPLATE, { recursive: true }) as string[])
    .filter((from) => statSync(join(TEMPLATE, from)).isFile())
    .map((from) => {
      const name = basename(from);
      const to = join(dirname(from), RENAMED[name] ?? name);
      return { from, to: to.split(sep).join("/") };
    })
    .sort((a, b) => (a.to < b.to ? -1 : 1));
}

function packageJson(template: string, target: string, options: ProjectOptions): string {
  const pkg = JSON.parse(template) as PackageJson;
  const own = readPackageJson(PACKAGE_ROOT) ?? {};
  const tested = { ...own.devDependencies, ...own.dependencies };
  pkg.name = packageName(basename(target));
  for (const deps of [pkg.dependencies ?? {}, pkg.devDependencies ?? {}]) {
    for (const name of Object.keys(deps)) deps[name] = tested[name] ?? (deps[name] as string);
  }
  pkg.dependencies = { ...pkg.dependencies, troupe: options.troupe };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

/** A valid npm package name made from a folder's name. */
function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+|-+$/g, "");
  return name === "" ? "troupe-app" : name;
}

/**
 * How the new project at `target` gets troupe while troupe is not on the registry: this troupe
 * is a checkout (or an unpacked copy outside node_modules), so `file:` links to it; or it was
 * installed into a project, whose own spec for it (a tarball, a git URL) is reused, a relative
 * `file:` path rebased onto `target`; else the registry range of this version.
 */
export function troupeSpec(target: string, root: string = PACKAGE_ROOT): string {
  const parts = resolve(root).split(sep);
  const at = parts.lastIndexOf("node_modules");
  if (at < 0) return `file:${relativeSpecPath(target, root)}`;
  const host = parts.slice(0, at).join(sep) || sep;
  const hostPkg = readPackageJson(host);
  const spec = hostPkg?.dependencies?.troupe ?? hostPkg?.devDependencies?.troupe;
  if (spec !== undefined) return rebase(spec, host, target);
  return `^${readPackageJson(root)?.version ?? "0.0.0"}`;
}

/**
 * `spec` as meant in `from`, for `target`'s package.json: a relative path (`file:../x.tgz`, or
 * `../x.tgz` as npm also takes it) is moved to start at `target`; other specs stay.
 */
function rebase(spec: string, from: string, target: string): string {
  const path = spec.startsWith("file:")
    ? spec.slice("file:".length)
    : /^\.\.?\//.test(spec)
      ? spec
      : undefined;
  if (path === undefined || isAbsolute(path)) return spec;
  return `file:${relativeSpecPath(target, resolve(from, path))}`;
}

function relativeSpecPath(from: string, to: string): string {
  const path = relative(from, to).split(sep).join("/");
  return /^\.\.?(\/|$)/.test(path) ? path : `./${path}`;
}

function readPackageJson(dir: string): PackageJson | undefined {
  const file = join(dir, "package.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as PackageJson) : undefined;
}
