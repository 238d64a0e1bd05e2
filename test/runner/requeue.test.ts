import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GroupUnavailableError, WorkerExitedError } from "../../src/index.ts";
import { collect, scenarioRunner, tempDir } from "../helpers.ts";

/** What each rank recorded, by rank, as `record` calls append their tags. */
function recorded(dir: string, rank: number): string[] {
  try {
    return readFileSync(join(dir, `calls-${rank}`), "utf8")
      .split("\n")
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Runs `body` with a started scenario runner (restarting at once) and a fresh directory. */
async function withRunner(
  options: Parameters<typeof scenarioRunner>[0],
  body: (runner: ReturnType<typeof scenarioRunner>, dir: string) => Promise<void>,
): Promise<void> {
  using dir = tempDir();
  const runner = scenarioRunner({ restart: { initialDelay: 0 }, ...options });
  await runner.start();
  try {
    await body(runner, dir.path);
  } finally {
    await runner.stop();
  }
}

function pidOf(runner: { ranks: readonly { pid: number | undefined }[] }, rank: number): number {
  return runner.ranks[rank]?.pid as number;
}

// A request submitted in the same turn of the event loop as a rank's kill is sent to a group
// whose death the runner has not seen yet: the exit can only be noticed once the loop turns.
describe("a request sent to a group that died before any rank began it", () => {
  it("is re-queued and runs once on the restarted group (one rank, killed idle)", () =>
    withRunner({ worldSize: 1 }, async (runner, dir) => {
      const oldPid = pidOf(runner, 0);
      process.kill(oldPid, "SIGKILL");
      expect(runner.isAlive()).toBe(true);
      const events = collect(runner.stream({ op: "record", dir, tag: "once" }).events());
      // The stream saw its position, then `started` once: no rank began it before the restart.
      await expect(events).resolves.toEqual([
        { type: "queued", position: 0 },
        { type: "started" },
        { type: "done", data: { tag: "once" } },
      ]);
      expect(recorded(dir, 0)).toEqual(["once"]);
      expect(pidOf(runner, 0)).not.toBe(oldPid);
      expect(runner.gatherErrors()).toContainEqual(expect.any(WorkerExitedError));
      expect(runner.logs.map((record) => record.msg)).toContain(
        "Request re-queued: its rank group died before any rank began it",
      );
    }));

  it("is re-queued when one rank died and the others could not read it yet", () =>
    withRunner({}, async (runner, dir) => {
      const [rank0, rank1] = [pidOf(runner, 0), pidOf(runner, 1)];
      // Rank 0 is alive but frozen, so it cannot begin the request before the group is failed
      // (the runner kills it then: SIGKILL ends a stopped process too).
      process.kill(rank0, "SIGSTOP");
      process.kill(rank1, "SIGKILL");
      const output = runner.invoke({ op: "record", dir, tag: "once" });
      await expect(output).resolves.toEqual({ tag: "once" });
      expect([recorded(dir, 0), recorded(dir, 1)]).toEqual([["once"], ["once"]]);
      expect(runner.ranks.map((rank) => rank.pid)).not.toContain(rank0);
    }));

  it("keeps its place: the requests submitted after it still run after it, in order", () =>
    withRunner({ worldSize: 1 }, async (runner, dir) => {
      process.kill(pidOf(runner, 0), "SIGKILL");
      const outputs = Promise.all(
        ["first", "second", "third"].map((tag) => runner.invoke({ op: "record", dir, tag })),
      );
      await expect(outputs).resolves.toEqual([
        { tag: "first" },
        { tag: "second" },
        { tag: "third" },
      ]);
      expect(recorded(dir, 0)).toEqual(["first", "second", "third"]);
    }));

  it("fails with GROUP_UNAVAILABLE, as the queued requests do, when the group is not restarted", () =>
    withRunner({ worldSize: 1, restart: false }, async (runner, dir) => {
      process.kill(pidOf(runner, 0), "SIGKILL");
      const error = await runner
        .invoke({ op: "record", dir, tag: "never" })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GroupUnavailableError);
      expect(error).toMatchObject({ code: "GROUP_UNAVAILABLE" });
      expect(recorded(dir, 0)).toEqual([]);
    }));

  it("fails with its own timeout while it waits for the restarted group", () =>
    withRunner({ worldSize: 1, restart: { initialDelay: 60_000 } }, async (runner, dir) => {
      process.kill(pidOf(runner, 0), "SIGKILL");
      const error = await runner
        .invoke({ op: "record", dir, tag: "never" }, { timeout: 200 })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "REQUEST_TIMEOUT" });
      expect(runner.queueLength).toBe(0);
      expect(recorded(dir, 0)).toEqual([]);
    }));
});

describe("a request that a live rank began in a group whose other rank died", () => {
  it("fails typed as before (it ran), and is not run again on the restarted group", () =>
    withRunner({}, async (runner, dir) => {
      const rank1 = pidOf(runner, 1);
      // Rank 1 never reads the request; rank 0 begins it (and finishes its part).
      process.kill(rank1, "SIGSTOP");
      const events = runner
        .stream({ op: "record", dir, tag: "ran" })
        .events()
        [Symbol.asyncIterator]();
      await expect(events.next()).resolves.toEqual({
        done: false,
        value: { type: "queued", position: 0 },
      });
      await expect(events.next()).resolves.toEqual({ done: false, value: { type: "started" } });
      process.kill(rank1, "SIGKILL");
      const last = await events.next();
      expect(last.value).toMatchObject({ type: "error", fatal: true });
      const error = (last.value as { error: Error }).error;
      expect(error).toBeInstanceOf(WorkerExitedError);
      expect(error).toMatchObject({
        code: "WORKER_EXITED",
        rank: 1,
        message: "Rank 1 exited from signal SIGKILL",
      });
      await expect(runner.invoke({ op: "record", dir, tag: "next" })).resolves.toEqual({
        tag: "next",
      });
      expect([recorded(dir, 0), recorded(dir, 1)]).toEqual([["ran", "next"], ["next"]]);
    }));
});
