import { type ChildProcess, spawn } from "node:child_process";
import { type FSWatcher, readdirSync, statSync, watch } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { abortOf } from "../internal/abort-of.ts";
import type { CliEnvironment } from "./environment.ts";

/** Folders whose changes never restart the app: dependencies, git, build outputs. */
const IGNORED_FOLDERS: ReadonlySet<string> = new Set([
  "node_modules",
  ".git",
  "dist",
  "build",
  "coverage",
]);

/** Editors' swap and backup files, written beside a file being edited. */
const EDITOR_FILES = /^\.#|~$|\.sw[px]$|^4913$/;

/** How long changes are gathered into one restart: an editor's save is several events. */
const DEBOUNCE_MS = 100;

/** The line `troupe run` prints once the app is ready. */
const LISTENING = /^Listening on (http:\/\/\S+)$/;

/** What {@link runWatched} serves. */
export interface WatchedRun {
  /** The app module, as given on the command line. */
  readonly app: string;
  /** Where `app` (and any relative path among `args`) starts. */
  readonly cwd: string;
  /** The port of the first start; later ones reuse the port the app got (`--port 0`). */
  readonly port: number;
  /** `troupe run`'s arguments for one start on `port`, without `--watch`. */
  readonly args: (port: number) => string[];
  readonly environment: CliEnvironment;
}

/**
 * `troupe run --watch`: serves the app in a child process, and restarts it when a file under
 * the app module's folder changes (but for {@link IGNORED_FOLDERS}). Each start is a fresh
 * process, so a fresh module graph: no import ever serves stale code. A restart stops the old
 * server first (SIGTERM: its streams end, its ranks stop), since its ranks hold the GPUs and
 * the port, then starts the new code on the same port. A start that fails (the module does not
 * load, `setup()` throws) prints its one-line error, and the next change tries again; no server
 * runs until then. The child's stdout (its `Listening on` line) and stderr (its logs) pass
 * through. Resolves with 0 once `environment.signal` aborts and the last child has exited.
 *
 * Node's own `--watch-path` was the alternative: it has no way to skip `node_modules` or build
 * outputs, and prints lines of its own into stdout.
 */
export async function runWatched(run: WatchedRun): Promise<number> {
  const { environment } = run;
  const root = dirname(resolve(run.cwd, run.app));
  let port = run.port;
  let current: { child: ChildProcess; exited: Promise<void>; stopping: boolean } | undefined;
  let restarting: Promise<void> | undefined;
  let stopped = false;

  const start = (): void => {
    const child = spawn(process.execPath, [...troupeCommand(), ...run.args(port)], {
      cwd: run.cwd,
      env: { ...environment.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const entry = { child, exited: Promise.resolve(), stopping: false };
    entry.exited = new Promise<void>((done) => {
      child.once("close", (code, signal) => {
        if (!entry.stopping && !stopped) {
          const how = signal === null ? `with code ${code}` : `by ${signal}`;
          environment.stderr.write(`troupe: the app exited ${how}; waiting for a change\n`);
        }
        done();
      });
      child.once("error", (error) => {
        environment.stderr.write(`troupe: could not start the app: ${error.message}\n`);
        done();
      });
    });
    eachLine(child.stdout, (line) => {
      const listening = LISTENING.exec(line);
      if (listening) port = Number(new URL(listening[1] as string).port);
      environment.stdout.write(`${line}\n`);
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (text: string) => environment.stderr.write(text));
    current = entry;
  };

  const stopChild = async (): Promise<void> => {
    const entry = current;
    if (entry === undefined) return;
    entry.stopping = true;
    entry.child.kill("SIGTERM");
    await entry.exited;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const restart = (changed: string): void => {
    // A change seen while the old server stops is in the code the coming start loads.
    if (stopped || restarting !== undefined) return;
    environment.stderr.write(
      `troupe: ${relative(root, changed) || basename(changed)} changed; restarting\n`,
    );
    restarting = stopChild()
      .then(() => {
        if (!stopped) start();
      })
      .finally(() => {
        restarting = undefined;
      });
  };
  const closeTree = watchTree(root, (changed) => {
    clearTimeout(timer);
    timer = setTimeout(() => restart(changed), DEBOUNCE_MS);
  });

  start();
  await abortOf(environment.signal);
  stopped = true;
  clearTimeout(timer);
  closeTree();
  await restarting;
  await stopChild();
  return 0;
}

/** The command that runs this troupe's `main`: the compiled one, or the source under tsx. */
function troupeCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    const tsx = createRequire(import.meta.url).resolve("tsx");
    return ["--import", tsx, join(dirname(here), "main.ts")];
  }
  // The node flags this process got (memory limits, say), but not a debugger's port twice.
  const flags = process.execArgv.filter((f) => !/^--(inspect|watch)/.test(f));
  return [...flags, join(dirname(here), "main.js")];
}

/**
 * Watches every folder under `root` but ignored ones, one watcher a folder (a recursive watch
 * would walk `node_modules` too), adding folders created later. Returns what closes them all.
 */
export function watchTree(root: string, onChange: (path: string) => void): () => void {
  const watchers = new Map<string, FSWatcher>();
  const forget = (folder: string): void => {
    watchers.get(folder)?.close();
    watchers.delete(folder);
  };
  const add = (folder: string): void => {
    if (watchers.has(folder)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, (_event, name) => {
        if (name === null || IGNORED_FOLDERS.has(name) || EDITOR_FILES.test(name)) return;
        const path = join(folder, name.toString());
        if (isFolder(path)) add(path);
        else if (watchers.has(path)) forget(path);
        onChange(path);
      });
    } catch {
      return; // gone already, or not readable
    }
    watcher.on("error", () => forget(folder));
    watchers.set(folder, watcher);
    let entries: string[] = [];
    try {
      entries = readdirSync(folder, { withFileTypes: true })
        .filter((e) => e.isDirectory() && !IGNORED_FOLDERS.has(e.name))
        .map((e) => e.name);
    } catch {
      // Not readable: its own changes are still seen.
    }
    for (const name of entries) add(join(folder, name));
  };
  add(root);
  return () => {
    for (const folder of [...watchers.keys()]) forget(folder);
  };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Calls `online` for each whole line `stream` gives, and for a last one without a newline. */
function eachLine(stream: NodeJS.ReadableStream | null, online: (line: string) => void): void {
  if (stream === null) return;
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (text: string) => {
    const lines = (rest + text).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) online(line);
  });
  stream.on("end", () => {
    if (rest !== "") online(rest);
  });
}
