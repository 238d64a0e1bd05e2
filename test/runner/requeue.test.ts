import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { GroupUnavailableError, WorkerExitedError } from "../../src/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import type { RequestMessageSink } from "../../src/runner/rank-group.ts";
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

/**
 * Resolves once rank `rank`'s acknowledgement (`started`) of a request has reached the runner:
 * the runner's scheduler, where its ranks' request messages arrive, is watched until then.
 */
function acknowledgedBy(runner: object, rank: number): Promise<void> {
  const scheduler = (runner as { scheduler?: RequestMessageSink }).scheduler as RequestMessageSink;
  const receive = scheduler.receive.bind(scheduler);
  const seen = deferred<void>();
  const spy = vi.spyOn(scheduler, "receive").mockImplementation((from, message) => {
    receive(from, message);
    if (from === rank && message.t === "started") seen.resolve();
  });
  return seen.promise.finally(() => spy.mockRestore());
}

// A request submitted in the same turn of the event loop as a rank's kill is sent to a group
// whose death the runner has not seen yet: the exit can only be noticed once the loop turns.
describe("a request sent to a group that died before any rank began it", () => {
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

  // The audit's case on several ranks: the live ranks take the request and acknowledge it at
  // once, but the killed one never does, so no rank is told to go before the runner sees the death.
  it.each([
    [0, 1],
    [1, 2],
    [1, 4],
  ])(
    "is re-queued and runs once on the restarted group when idle rank %i of %i was killed",
    (killed, worldSize) =>
      withRunner({ worldSize }, async (runner, dir) => {
        const pids = runner.ranks.map((rank) => rank.pid);
        process.kill(pidOf(runner, killed), "SIGKILL");
        expect(runner.isAlive()).toBe(true);
        const events = collect(runner.stream({ op: "record", dir, tag: "once" }).events());
        // The stream saw its position, then `started` once: no rank began it before the restart.
        await expect(events).resolves.toEqual([
          { type: "queued", position: 0 },
          { type: "started" },
          { type: "done", data: { tag: "once" } },
        ]);
        const ranks = Array.from({ length: worldSize }, (_, rank) => rank);
        expect(ranks.map((rank) => recorded(dir, rank))).toEqual(ranks.map(() => ["once"]));
        for (const pid of runner.ranks.map((rank) => rank.pid)) expect(pids).not.toContain(pid);
        const errors = runner.gatherErrors();
        expect(errors).toEqual([expect.any(WorkerExitedError)]);
        expect(errors[0]).toMatchObject({ code: "WORKER_EXITED", rank: killed });
        expect(runner.logs.map((record) => record.msg)).toContain(
          "Request re-queued: its rank group died before any rank began it",
        );
      }),
  );

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

describe("a request every rank was told to go, in a group whose rank then died", () => {
  it.each([2, 4])(
    "fails typed (it ran), at world size %i, and is not run again on the restarted group",
    (worldSize) =>
      withRunner({ worldSize }, async (runner) => {
        const events = runner.stream({ op: "waitAbort" }).events()[Symbol.asyncIterator]();
        await expect(events.next()).resolves.toEqual({
          done: false,
          value: { type: "queued", position: 0 },
        });
        // `started` comes once the runner told every rank to go; rank 0's result proves it ran.
        await expect(events.next()).resolves.toEqual({ done: false, value: { type: "started" } });
        await expect(events.next()).resolves.toEqual({
          done: false,
          value: { type: "result", rank: 0, data: { running: true } },
        });
        process.kill(pidOf(runner, 1), "SIGKILL");
        const last = await events.next();
        expect(last.value).toMatchObject({ type: "error", fatal: true });
        const error = (last.value as { error: Error }).error;
        expect(error).toBeInstanceOf(WorkerExitedError);
        expect(error).toMatchObject({
          code: "WORKER_EXITED",
          rank: 1,
          message: "Rank 1 exited from signal SIGKILL",
        });
        // The restarted group's first call: nothing ran on it before.
        await expect(runner.invoke({ op: "count" })).resolves.toEqual({ calls: [] });
        expect(runner.logs.map((record) => record.msg)).not.toContain(
          "Request re-queued: its rank group died before any rank began it",
        );
      }),
  );
});

describe("a request cancelled after a rank acknowledged it and before every rank was told to go", () => {
  it("ends aborted on every rank without call() having run on any, and the group goes on", () =>
    withRunner({}, async (runner, dir) => {
      const pids = runner.ranks.map((rank) => rank.pid);
      const rank1 = pidOf(runner, 1);
      // Rank 1 cannot take the request, so the runner cannot tell the ranks to go.
      process.kill(rank1, "SIGSTOP");
      const rank0Acknowledged = acknowledgedBy(runner, 0);
      const controller = new AbortController();
      const cancelled = runner.invoke(
        { op: "record", dir, tag: "cancelled" },
        { signal: controller.signal },
      );
      await rank0Acknowledged;
      controller.abort();
      await expect(cancelled).rejects.toMatchObject({ name: "AbortError" });
      process.kill(rank1, "SIGCONT");
      // FIFO: this runs once both ranks have ended the cancelled request.
      await expect(runner.invoke({ op: "record", dir, tag: "next" })).resolves.toEqual({
        tag: "next",
      });
      expect([recorded(dir, 0), recorded(dir, 1)]).toEqual([["next"], ["next"]]);
      expect(runner.ranks.map((rank) => rank.pid)).toEqual(pids);
      expect(runner.gatherErrors()).toEqual([]);
    }));
});
