import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { watchTree } from "../../src/cli/watch.ts";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";
import { isRunning, streamingWorker, tempDir } from "../helpers.ts";
import { FakeOutput } from "./fake-output.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const source = join(repo, "src");

/**
 * An app in a folder of its own, answering with `version`, its process's pid and its ranks'.
 * It imports troupe's sources by path (the executable below runs them too: one copy of troupe),
 * and zod through the folder's node_modules link to the repository's.
 */
function appSource(version: number): string {
  return `import { z } from "zod";
import { App, endpoint } from ${JSON.stringify(join(source, "app/index.ts"))};
import { DistributedRunner } from ${JSON.stringify(join(source, "index.ts"))};

export default class WatchedApp extends App {
  runner!: DistributedRunner;

  override async setup() {
    this.runner = new DistributedRunner({ worker: new URL(${JSON.stringify(streamingWorker.href)}), worldSize: 2, gpus: [] });
    await this.runner.start();
  }

  @endpoint("/", { input: z.object({}) })
  async run() {
    return { version: ${version}, pid: process.pid, ranks: this.runner.ranks.map((r) => r.pid) };
  }
}
`;
}

interface Answer {
  readonly version: number;
  readonly pid: number;
  readonly ranks: number[];
}

async function call(url: string): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Answer;
}

/**
 * The troupe executable from source under tsx (as executable.test.ts runs it without a build),
 * so the app and the server share the sources under test; its output kept for waiting on.
 */
function troupe(args: string[], cwd: string) {
  const tsx = createRequire(import.meta.url).resolve("tsx");
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", tsx, join(source, "cli/main.ts"), ...args],
    { cwd, stdio: ["ignore", "pipe", "pipe"] },
  );
  const stdout = new FakeOutput();
  const stderr = new FakeOutput();
  child.stdout?.on("data", (chunk: Buffer) => stdout.write(chunk));
  child.stderr?.on("data", (chunk: Buffer) => stderr.write(chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  /** The url of the `n`th `Listening on` line. */
  const listening = async (n: number): Promise<string> => {
    const lines = new RegExp(`(?:[\\s\\S]*?^Listening on (http://\\S+)\\n){${n}}`, "m");
    return ((await stdout.waitFor(lines)) as [string, string])[1];
  };
  return { child, stdout, stderr, exited, listening };
}

function gone(answer: Answer): boolean {
  return [answer.pid, ...answer.ranks].every((pid) => !isRunning(pid));
}

describe("troupe run --watch", () => {
  it("restarts the app and its ranks on a change, on the same port, and waits out a change that does not load", async () => {
    using dir = tempDir();
    symlinkSync(join(repo, "node_modules"), join(dir.path, "node_modules"));
    writeFileSync(join(dir.path, "package.json"), '{ "type": "module" }\n');
    const app = join(dir.path, "app.ts");
    writeFileSync(app, appSource(1));
    const run = troupe(["run", "app.ts", "--port", "0", "--watch"], dir.path);
    let last: Answer | undefined;
    try {
      const url = await run.listening(1);
      const first = await call(url);
      expect(first).toMatchObject({ version: 1 });
      expect(first.ranks).toHaveLength(2);

      writeFileSync(app, appSource(2));
      expect(await run.listening(2)).toBe(url);
      const second = await call(url);
      expect(second.version).toBe(2);
      // The old server and its ranks were stopped before the new one started.
      expect(gone(first)).toBe(true);
      expect(run.stderr.text).toMatch(/^troupe: app\.ts changed; restarting$/m);

      writeFileSync(app, "export const notAnApp = 1;\n");
      await run.stderr.waitFor(
        /^troupe: Expected the app module app\.ts to export an App class .*\(INVALID_ARGUMENT\)\ntroupe: the app exited with code 1; waiting for a change\n/m,
      );
      expect(gone(second)).toBe(true);
      await expect(fetch(url)).rejects.toThrow();

      writeFileSync(app, appSource(3));
      expect(await run.listening(3)).toBe(url);
      last = await call(url);
      expect(last.version).toBe(3);
      // stdout carries the listening lines alone.
      expect(run.stdout.text).toBe(`Listening on ${url}\n`.repeat(3));
    } finally {
      run.child.kill("SIGTERM");
    }
    expect(await run.exited).toBe(0);
    if (last !== undefined) expect(gone(last)).toBe(true);
  }, 90_000);
});

describe("watchTree", () => {
  it("reports changes under the folder, in folders made later too, but none in node_modules, .git, dist or editors' swap files", async () => {
    using dir = tempDir();
    for (const folder of ["node_modules/dep", ".git", "dist", "src"]) {
      mkdirSync(join(dir.path, folder), { recursive: true });
    }
    const seen: string[] = [];
    const waiters: { path: string; found: Deferred<void> }[] = [];
    const close = watchTree(dir.path, (path) => {
      seen.push(path);
      for (const w of waiters.filter((w) => w.path === path)) w.found.resolve();
    });
    const change = (path: string) => {
      const found = deferred();
      waiters.push({ path: join(dir.path, path), found });
      return found.promise;
    };
    try {
      // Written before the file awaited: one event queue, so they would be seen first.
      writeFileSync(join(dir.path, "node_modules/dep/index.js"), "1");
      writeFileSync(join(dir.path, ".git/HEAD"), "1");
      writeFileSync(join(dir.path, "dist/app.js"), "1");
      writeFileSync(join(dir.path, "src/.app.ts.swp"), "1");
      const src = change("src/app.ts");
      writeFileSync(join(dir.path, "src/app.ts"), "1");
      await src;
      expect(new Set(seen)).toEqual(new Set([join(dir.path, "src/app.ts")]));

      const made = change("src/new");
      mkdirSync(join(dir.path, "src/new"));
      await made;
      const inside = change("src/new/part.ts");
      writeFileSync(join(dir.path, "src/new/part.ts"), "1");
      await inside;
    } finally {
      close();
    }
  });
});
