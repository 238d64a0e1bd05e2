import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { troupeSpec } from "../../src/cli/commands/init-command.ts";
import { main } from "../../src/cli/program.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { tempDir } from "../helpers.ts";
import { FakeOutput } from "./fake-output.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

const WRITTEN = [
  ".dockerignore",
  ".gitignore",
  "Dockerfile",
  "README.md",
  "package.json",
  "src/app.ts",
  "src/worker.ts",
  "test/app.test.ts",
  "tsconfig.json",
  "vitest.config.ts",
];

async function init(argv: string[], cwd: string) {
  const stdout = new FakeOutput();
  const stderr = new FakeOutput();
  const code = await main({ argv: ["init", ...argv], stdout, stderr, env: {}, cwd });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

/** Every file and folder below `dir`, relative to it. */
function filesIn(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe("troupe init", () => {
  it("writes the project, its package.json named after the folder, with troupe's own versions", async () => {
    using dir = tempDir();
    const { code, stdout, stderr } = await init(["My App", "--troupe", "^9.9.9"], dir.path);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toBe(
      `Wrote ${WRITTEN.join(", ")} in My App\nNext: cd 'My App' && npm install && npm test && npm start\n`,
    );
    expect(filesIn(join(dir.path, "My App"))).toEqual([...WRITTEN, "src", "test"].sort());
    const pkg = readJson(join(dir.path, "My App", "package.json")) as {
      name: string;
      type: string;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    expect(pkg.name).toBe("my-app");
    expect(pkg.type).toBe("module");
    expect(pkg.dependencies).toEqual({
      pino: own.dependencies.pino,
      troupe: "^9.9.9",
      zod: own.dependencies.zod,
    });
    expect(pkg.devDependencies).toEqual({
      "@types/node": own.devDependencies["@types/node"],
      typescript: own.devDependencies.typescript,
      vitest: own.devDependencies.vitest,
    });
    const tsconfig = readJson(join(dir.path, "My App", "tsconfig.json")) as {
      compilerOptions: Record<string, unknown>;
    };
    expect(tsconfig.compilerOptions.experimentalDecorators).toBeUndefined();
    expect(tsconfig.compilerOptions.verbatimModuleSyntax).toBe(true);
  });

  it("refuses, in one line and writing nothing, to overwrite a file that is there", async () => {
    using dir = tempDir();
    mkdirSync(join(dir.path, "src"));
    writeFileSync(join(dir.path, "src", "app.ts"), "mine");
    writeFileSync(join(dir.path, "README.md"), "mine");
    const { code, stdout, stderr } = await init([], dir.path);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `troupe: Refusing to overwrite README.md, src/app.ts in ${dir.path} (pass --force to replace them) (INVALID_ARGUMENT)\n`,
    );
    expect(filesIn(dir.path)).toEqual(["README.md", "src", "src/app.ts"]);
    expect(readFileSync(join(dir.path, "src", "app.ts"), "utf8")).toBe("mine");
  });

  it("replaces them with --force", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "README.md"), "mine");
    const { code } = await init([".", "--force"], dir.path);
    expect(code).toBe(0);
    const readme = readFileSync(join(dir.path, "README.md"), "utf8");
    expect(readme).toBe(readFileSync(join(root, "templates/init/README.md"), "utf8"));
  });

  it("moves a relative --troupe path to start at the new project, as npm install would read it", async () => {
    using dir = tempDir();
    await init(["apps/one", "--troupe", "./troupe-1.0.0.tgz"], dir.path);
    const pkg = readJson(join(dir.path, "apps/one/package.json")) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies.troupe).toBe("file:../../troupe-1.0.0.tgz");
  });
});

describe("troupeSpec: how a new project gets troupe", () => {
  it("links a checkout with file:", () => {
    expect(troupeSpec("/home/me/app", "/home/me/troupe")).toBe("file:../troupe");
    expect(troupeSpec("/home/me/troupe/examples/app", "/home/me/troupe")).toBe("file:../..");
  });

  it("reuses the spec of the project troupe is installed in, moving a relative path", () => {
    using dir = tempDir();
    const host = join(dir.path, "host");
    const installed = join(host, "node_modules", "troupe");
    mkdirSync(installed, { recursive: true });
    writeFileSync(join(installed, "package.json"), JSON.stringify({ version: "1.2.3" }));
    const hostWith = (deps: Record<string, unknown>) =>
      writeFileSync(join(host, "package.json"), JSON.stringify(deps));

    hostWith({ dependencies: { troupe: "file:vendor/troupe-1.2.3.tgz" } });
    expect(troupeSpec(join(dir.path, "new"), installed)).toBe(
      "file:../host/vendor/troupe-1.2.3.tgz",
    );
    hostWith({ devDependencies: { troupe: "git+https://example.com/troupe.git#v1.2.3" } });
    expect(troupeSpec(join(dir.path, "new"), installed)).toBe(
      "git+https://example.com/troupe.git#v1.2.3",
    );
    hostWith({ dependencies: { zod: "^4.0.0" } });
    expect(troupeSpec(join(dir.path, "new"), installed)).toBe("^1.2.3");
  });
});

/** The environment for npm in the new project: none of the npm or vitest variables of this run. */
function projectEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(npm_|vitest|troupe_|force_color$)/i.test(key)) env[key] = value;
  }
  env.NO_COLOR = "1";
  // The Node running this test runs the project too (CI runs the suite on two Nodes).
  env.PATH = `${dirname(process.execPath)}${delimiter}${env.PATH ?? ""}`;
  return { ...env, ...extra };
}

function npm(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      "npm",
      args,
      { cwd, env: projectEnv(), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/**
 * Resolves once `GET /health/ready` answers 200: the server listens before the app's `setup()`
 * has started its ranks.
 */
async function ready(url: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/health/ready`);
    await response.body?.cancel();
    if (response.status === 200) return;
    expect(response.status).toBe(503); // starting
    await delay(50);
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

// One npm install, of troupe as `npm pack` makes it: what a user of the tarball gets.
describe("the project troupe init writes, installed with npm", () => {
  let work: ReturnType<typeof tempDir>;
  let project: string;

  beforeAll(async () => {
    if (!existsSync(join(root, "dist", "index.js"))) {
      throw new Error("troupe is not built: run `npm run build` first (npm test does)");
    }
    work = tempDir();
    // --ignore-scripts: pack the dist that is there instead of building it again under the
    // tests that use it.
    const packed = await npm(
      ["pack", "--ignore-scripts", "--silent", "--pack-destination", work.path, root],
      work.path,
    );
    expect(packed.code, packed.output).toBe(0);
    const tarball = `troupe-${own.version}.tgz`;
    expect(existsSync(join(work.path, tarball)), packed.output).toBe(true);
    const made = await init(["app", "--troupe", `file:${tarball}`], work.path);
    expect(made.code, made.stderr).toBe(0);
    project = join(work.path, "app");
    const installed = await npm(
      ["install", "--prefer-offline", "--no-audit", "--no-fund"],
      project,
    );
    expect(installed.code, installed.output).toBe(0);
  }, 600_000);

  afterAll(() => {
    work?.[Symbol.dispose]();
  });

  it("passes its own npm test as written", async () => {
    const { code, output } = await npm(["test"], project);
    expect(code, output).toBe(0);
    expect(output).toMatch(/Tests\s+3 passed/);
  }, 300_000);

  it("serves with npm start, streams fal's events, and exits 0 on SIGTERM", async () => {
    const child = spawn("npm", ["start"], {
      cwd: project,
      env: projectEnv({ PORT: "0" }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const listening = deferred<string>();
    let output = "";
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)?.[0];
      if (url !== undefined) listening.resolve(url);
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    const exit = exited(child);
    void exit.then((code) => listening.reject(new Error(`npm start exited (${code}): ${output}`)));
    try {
      const url = await listening.promise;
      await ready(url);
      const response = await fetch(`${url}/stream`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: "A sunset", steps: 2 }),
      });
      expect(await response.text()).toBe(
        [
          { step: 0, progress: 0.5, message: "Processing step 1/2" },
          { step: 1, progress: 1, message: "Processing step 2/2" },
          { output: "A sunset: 2 steps on 2 ranks" },
        ]
          .map((data) => `data: ${JSON.stringify(data)}\n\n`)
          .join(""),
      );
      child.kill("SIGTERM");
      expect(await exit, output).toBe(0);
      // npm passed the signal on to troupe, which closed its server before exiting.
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);
});
