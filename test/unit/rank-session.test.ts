import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { ProcessGroup } from "../../src/collectives/process-group.ts";
import { deferred } from "../../src/internal/deferred.ts";
import type { RankConfig, RankMessage, RunnerMessage } from "../../src/ipc/messages.ts";
import { decodeValue, encodeValue } from "../../src/ipc/value-codec.ts";
import { RankSession } from "../../src/worker/rank-session.ts";
import { ResultSink } from "../../src/worker/result-sink.ts";
import { tempDir } from "../helpers.ts";
import { freeChannel, streamed } from "./support/result-frames.ts";

const CONFIG: RankConfig = {
  streamAllRanks: false,
  maxPendingBytes: 1024 * 1024,
  highWaterMark: 64,
  collectiveTimeout: 1000,
};

const fixture = (name: string): string =>
  pathToFileURL(new URL(`../fixtures/${name}`, import.meta.url).pathname).href;

/** A rank session with a fake process group, recording what it sends and how it exits. */
function session(
  rank = 0,
  untilSent?: () => Promise<void> | undefined,
  joinGroup?: (group: ProcessGroup) => Promise<ProcessGroup>,
) {
  const sent: RankMessage[] = [];
  const exits: number[] = [];
  const aborts: unknown[] = [];
  const epochs: number[] = [];
  const { channel, chunks } = freeChannel();
  let waiter = deferred<void>();
  const group = {
    beginEpoch: (epoch: number) => epochs.push(epoch),
    abort: (reason: unknown) => aborts.push(reason),
    destroy: async () => {},
  } as unknown as ProcessGroup;
  const rankSession = new RankSession({
    rank,
    send: (message) => {
      sent.push(message);
      waiter.resolve();
    },
    exitAfterFlush: (code) => {
      exits.push(code);
      waiter.resolve();
    },
    createSink: (config) =>
      new ResultSink({
        channel,
        rank,
        highWaterMark: config.highWaterMark,
        maxPendingBytes: config.maxPendingBytes,
      }),
    joinGroup: joinGroup === undefined ? async () => group : () => joinGroup(group),
    untilSent,
  });
  /** Resolves once a message of type `t` was sent. */
  async function until(t: RankMessage["t"]): Promise<RankMessage> {
    for (;;) {
      const found = sent.find((message) => message.t === t);
      if (found !== undefined) return found;
      waiter = deferred<void>();
      await waiter.promise;
    }
  }
  const receive = (message: RunnerMessage) => rankSession.receive(message);
  return { session: rankSession, receive, sent, exits, aborts, epochs, chunks, until };
}

/** A session whose worker module `name` is loaded and set up. */
async function ready(
  name: string,
  rank = 0,
  setup?: unknown,
  untilSent?: () => Promise<void> | undefined,
) {
  const started = session(rank, untilSent);
  started.receive({ t: "init", worker: fixture(name), setup, config: CONFIG });
  await started.until("ready");
  return started;
}

const call = (id: number, value: unknown, streaming = true, held = false): RunnerMessage => ({
  t: "call",
  id,
  requestId: `request-${id}`,
  payload: encodeValue(value),
  streaming,
  imageFormat: "jpeg",
  held,
});

/** The init message for the worker fixture `name`, with no setup options. */
const init = (name: string): RunnerMessage => ({
  t: "init",
  worker: fixture(name),
  setup: undefined,
  config: CONFIG,
});

/** A whole turn of the event loop: a call() that could run would have run by then. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("RankSession", () => {
  it("exits with code 70, logging why, when a call arrives before setup", () => {
    const rank = session();
    rank.receive(call(1, { prompt: "too early" }));
    expect(rank.exits).toEqual([70]);
    expect(rank.sent).toEqual([
      {
        t: "log",
        level: "error",
        msg: expect.stringMatching(/Call 1 arrived while the rank was not set up/),
      },
    ]);
  });

  it("sends ready after setup, streams rank 0's results and sends done with the encoded output", async () => {
    const rank = await ready("streaming-worker.ts", 0, { model: "tiny" });
    rank.receive(call(3, { prompt: "hi", steps: 2 }));
    const done = await rank.until("done");
    expect(done.t === "done" && decodeValue(done.output)).toEqual({
      output: "hi (tiny, 2 steps, streamed)",
    });
    expect(streamed(rank.chunks)).toEqual([
      { step: 0, progress: 0.5 },
      { step: 1, progress: 1 },
    ]);
    expect(rank.epochs).toEqual([3]);
  });

  it("acknowledges a call first, and runs call() only once the acknowledgement has left the process", async () => {
    const gate = deferred<void>();
    const rank = await ready("scenario-worker.ts", 0, undefined, () => gate.promise);
    rank.receive(call(4, { op: "echo", value: "x" }, false));
    expect(rank.sent.at(-1)).toEqual({ t: "started", id: 4 });
    // A whole turn of the event loop: an echo that had run would have sent done by now.
    await new Promise((resolve) => setImmediate(resolve));
    expect(rank.sent.map((message) => message.t)).toEqual(["ready", "started"]);
    gate.resolve();
    const done = await rank.until("done");
    expect(done.t === "done" && decodeValue(done.output)).toBe("x");
    expect(rank.sent.map((message) => message.t)).toEqual(["ready", "started", "done"]);
  });

  it("acknowledges a held call and runs call() only once go arrives, whether or not the acknowledgement has left", async () => {
    const never = new Promise<void>(() => {});
    const rank = await ready("scenario-worker.ts", 0, undefined, () => never);
    rank.receive(call(5, { op: "echo", value: "y" }, false, true));
    expect(rank.sent.at(-1)).toEqual({ t: "started", id: 5 });
    await turn();
    expect(rank.sent.map((message) => message.t)).toEqual(["ready", "started"]);
    rank.receive({ t: "go", id: 5 });
    await rank.until("done");
    expect(rank.sent.map((message) => message.t)).toEqual(["ready", "started", "done"]);
    expect(rank.epochs).toEqual([5]);
  });

  it("runs a held call's call() in the same turn as its go, so a cancel read right after fires its signal", async () => {
    using dir = tempDir();
    const rank = await ready("scenario-worker.ts");
    rank.receive(call(8, { op: "waitAbort", dir: dir.path }, true, true));
    rank.receive({ t: "go", id: 8 });
    rank.receive({ t: "cancel", id: 8, reason: { name: "AbortError", message: "client left" } });
    await expect(rank.until("failed")).resolves.toMatchObject({ id: 8, aborted: true });
    expect(readFileSync(join(dir.path, "aborted-0"), "utf8")).toBe(
      "AbortError: Request 8 was cancelled: client left",
    );
  });

  it("ends a held call cancelled before its go as aborted, without running call()", async () => {
    using dir = tempDir();
    const rank = await ready("scenario-worker.ts");
    rank.receive(call(6, { op: "record", dir: dir.path, tag: "never" }, false, true));
    rank.receive({ t: "cancel", id: 6, reason: { name: "AbortError", message: "client left" } });
    const failed = await rank.until("failed");
    expect(failed).toMatchObject({
      t: "failed",
      id: 6,
      aborted: true,
      error: { name: "AbortError", message: "Request 6 was cancelled: client left", rank: 0 },
    });
    expect(readdirSync(dir.path)).toEqual([]);
    // The rank takes the next call, and runs it.
    rank.receive(call(7, { op: "record", dir: dir.path, tag: "next" }, false, true));
    rank.receive({ t: "go", id: 7 });
    await expect(rank.until("done")).resolves.toMatchObject({ t: "done", id: 7 });
    expect(readFileSync(join(dir.path, "calls-0"), "utf8")).toBe("next\n");
    expect(rank.exits).toEqual([]);
  });

  it.each([
    ["no call is held", [], 3, "Go for call 3 arrived while no call was held"],
    [
      "another call is held",
      [call(1, { op: "waitAbort" }, true, true)],
      2,
      "Go for call 2 arrived while call 1 was held",
    ],
    [
      "its call was not held",
      [call(1, { op: "waitAbort" })],
      1,
      "Go for call 1 arrived while it was not held, or already running",
    ],
    [
      "its call had its go already",
      [call(1, { op: "waitAbort" }, true, true), { t: "go", id: 1 } as const],
      1,
      "Go for call 1 arrived while it was not held, or already running",
    ],
  ] as const)("exits with code 70 on a go when %s", async (_, before, id, message) => {
    const rank = await ready("scenario-worker.ts");
    for (const m of before) rank.receive(m);
    rank.receive({ t: "go", id });
    expect(rank.exits).toEqual([70]);
    expect(rank.sent.at(-1)).toMatchObject({ msg: expect.stringContaining(message) });
  });

  it("exits with code 70 when a second call arrives while one runs", async () => {
    const rank = await ready("scenario-worker.ts");
    rank.receive(call(1, { op: "waitAbort" }));
    rank.receive(call(2, { op: "echo", value: 1 }));
    expect(rank.exits).toEqual([70]);
    expect(rank.sent.at(-1)).toMatchObject({ msg: expect.stringMatching(/running call 1/) });
  });

  it("aborts the call, its collectives and its queued results on cancel, and reports it aborted", async () => {
    const rank = await ready("scenario-worker.ts");
    rank.receive(call(4, { op: "waitAbort" }));
    rank.receive({ t: "cancel", id: 9, reason: { name: "AbortError", message: "not this one" } });
    rank.receive({ t: "cancel", id: 4, reason: { name: "AbortError", message: "client left" } });
    const failed = await rank.until("failed");
    expect(failed).toMatchObject({
      t: "failed",
      id: 4,
      aborted: true,
      error: { name: "AbortError", message: "Request 4 was cancelled: client left", rank: 0 },
    });
    expect(rank.aborts).toHaveLength(1);
  });

  it("reports setupFailed naming the module when its default export is not a worker class, and exits with code 1", async () => {
    const rank = session();
    rank.receive(init("not-a-worker.ts"));
    const failed = await rank.until("setupFailed");
    expect(failed).toMatchObject({
      error: {
        code: "INVALID_WORKER",
        message: expect.stringMatching(/not-a-worker\.ts.*the function notAWorker/),
      },
    });
    expect(rank.exits).toEqual([1]);
  });

  it("drops results added on rank 1 with one warning, unless every rank's results are forwarded", async () => {
    const rank = await ready("scenario-worker.ts", 1);
    rank.receive(call(1, { op: "allRanks" }));
    await rank.until("done");
    expect(rank.chunks).toHaveLength(0);
    expect(rank.sent.filter((message) => message.t === "log")).toEqual([
      { t: "log", level: "warn", msg: expect.stringMatching(/Rank 1 dropped a streaming result/) },
    ]);
  });

  it("joins the group while the worker module loads, and is ready once both are done", async () => {
    const joined = deferred<ProcessGroup>();
    let joining = 0;
    const rank = session(0, undefined, () => {
      joining++;
      return joined.promise;
    });
    rank.receive(init("scenario-worker.ts"));
    // Called in the same turn as the init arrived, before the module could have loaded.
    expect(joining).toBe(1);
    await turn();
    expect(rank.sent).toEqual([]);
    joined.resolve({ beginEpoch: () => {}, destroy: async () => {} } as unknown as ProcessGroup);
    await rank.until("ready");
    expect(joining).toBe(1);
  });

  it("reports the module that cannot load, not the group it was joining", async () => {
    const rank = session(0, undefined, () => Promise.reject(new Error("no store")));
    rank.receive(init("missing-worker.ts"));
    const failed = await rank.until("setupFailed");
    expect(failed).toMatchObject({
      error: {
        code: "INVALID_WORKER",
        message: expect.stringMatching(/Cannot load the worker module/),
      },
    });
    expect(rank.exits).toEqual([1]);
  });

  it("reports setupFailed with the group's error when joining fails and the module loaded", async () => {
    const rank = session(0, undefined, () => Promise.reject(new Error("the store is gone")));
    rank.receive(init("scenario-worker.ts"));
    const failed = await rank.until("setupFailed");
    expect(failed).toMatchObject({ error: { message: "the store is gone", rank: 0 } });
    expect(rank.exits).toEqual([1]);
  });

  it("tears the worker down, leaves the group and exits with code 0 on stop", async () => {
    const rank = await ready("scenario-worker.ts");
    rank.receive({ t: "stop" });
    await rank.until("stopped");
    expect(rank.exits).toEqual([0]);
  });
});
