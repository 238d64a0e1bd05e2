import { afterEach, describe, expect, it, vi } from "vitest";
import { ProtocolError, type SerializedError, serializeError } from "../../src/errors.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { decodeValue, encodeValue, FrameDecoder, parseRunnerMessage } from "../../src/ipc/index.ts";
import type { RunnerMessage } from "../../src/ipc/messages.ts";
import type { BufferedEvent } from "../../src/runner/event-buffer.ts";
import type { GroupState } from "../../src/runner/rank-group.ts";
import { RunnerLog } from "../../src/runner/runner-log.ts";
import type { RunnerRequest } from "../../src/runner/runner-request.ts";
import { type ScheduledGroup, Scheduler } from "../../src/runner/scheduler.ts";
import { recordingLogger } from "../helpers.ts";

/** A group of ranks (two unless told) that records what the scheduler sends it, with no processes behind it. */
class RecordingGroup implements ScheduledGroup {
  state: GroupState = "ready";
  /** Every `call` broadcast, decoded. */
  readonly calls: Extract<RunnerMessage, { t: "call" }>[] = [];
  /** The id of every `go` broadcast. */
  readonly gos: number[] = [];
  readonly sent: { rank: number; message: RunnerMessage }[] = [];
  readonly failures: Error[] = [];
  pauses = 0;
  resumes = 0;

  constructor(readonly worldSize = 2) {}

  broadcast(frame: Uint8Array): void {
    for (const message of new FrameDecoder().push(frame)) {
      const parsed = parseRunnerMessage(message);
      if (parsed.t === "call") this.calls.push(parsed);
      else if (parsed.t === "go") this.gos.push(parsed.id);
      else throw new Error(`Unexpected broadcast ${parsed.t}`);
    }
  }

  send(rank: number, message: RunnerMessage): void {
    this.sent.push({ rank, message });
  }

  pauseResults(): void {
    this.pauses++;
  }

  resumeResults(): void {
    this.resumes++;
  }

  fail(error: Error): void {
    this.failures.push(error);
    this.state = "failed";
  }
}

function setup(options: { highWaterMark?: number; keepalive?: unknown; worldSize?: number } = {}) {
  const log = new RunnerLog(recordingLogger());
  const scheduler = new Scheduler({
    highWaterMark: options.highWaterMark ?? 1024,
    cancelGracePeriod: 5000,
    keepalive:
      options.keepalive === undefined ? undefined : { payload: options.keepalive, interval: 1000 },
    log,
  });
  const group = new RecordingGroup(options.worldSize);
  scheduler.attach(group);
  const submit = (streaming = true): RunnerRequest =>
    scheduler.submit({ payload: encodeValue("payload"), streaming });
  const done = (request: RunnerRequest, rank: number, output: unknown = rank): void =>
    scheduler.receive(rank, { t: "done", id: request.id, output: encodeValue(output) });
  const ack = (request: RunnerRequest, ...ranks: number[]): void => {
    for (const rank of ranks) scheduler.receive(rank, { t: "started", id: request.id });
  };
  return { scheduler, group, log, submit, done, ack };
}

function events(request: RunnerRequest): BufferedEvent[] {
  const out: BufferedEvent[] = [];
  for (let event = request.buffer.take(); event !== undefined; event = request.buffer.take()) {
    out.push(event);
  }
  return out;
}

function wireError(message: string, code: string, rank: number): SerializedError {
  return { ...serializeError(new Error(message)), code, rank };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the scheduler", () => {
  it("runs requests one at a time in FIFO order, telling each waiting stream its position as it moves up", async () => {
    const { scheduler, group, submit, done } = setup();
    const first = submit();
    const second = submit();
    const third = submit();
    expect(group.calls.map((call) => call.id)).toEqual([first.id]);
    expect(scheduler.queueLength).toBe(2);
    expect(events(third)).toEqual([{ kind: "queued", position: 1 }]);
    done(first, 1);
    expect(group.calls).toHaveLength(1);
    done(first, 0, "first output");
    const outcome = await first.buffer.settled;
    expect(outcome.ok && decodeValue(outcome.output)).toBe("first output");
    expect(group.calls.map((call) => call.id)).toEqual([first.id, second.id]);
    // Sent is not started: `started` comes with `go`, once every rank acknowledged the request.
    expect(events(second)).toEqual([{ kind: "queued", position: 0 }]);
    scheduler.receive(1, { t: "started", id: second.id });
    expect(events(second)).toEqual([]);
    scheduler.receive(0, { t: "started", id: second.id });
    expect(events(second)).toEqual([{ kind: "started" }]);
    expect(events(third)).toEqual([{ kind: "queued", position: 0 }]);
    expect(scheduler.succeeded).toBe(1);
  });

  it("rejects a message for a request that is not running, records it, and applies nothing", () => {
    const { scheduler, log, submit, done } = setup();
    const request = submit();
    events(request);
    scheduler.receive(0, { t: "results", id: request.id + 7, items: [Uint8Array.of(1)] });
    done(request, 1);
    scheduler.receive(1, { t: "results", id: request.id, items: [Uint8Array.of(2)] });
    expect(request.buffer.size).toBe(0);
    const rejected = log.gather();
    expect(rejected.every((error) => error instanceof ProtocolError)).toBe(true);
    expect(rejected.map((error) => error.message)).toEqual([
      `Rank 0 sent "results" for request ${request.id + 7}, but request ${request.id} is running; the message was rejected`,
      `Rank 1 sent "results" for request ${request.id}, but request ${request.id} is running and the rank already finished it; the message was rejected`,
    ]);
  });

  it("fails a request with the failing rank's own error, not the abort echo another rank sent first", async () => {
    const { scheduler, submit } = setup();
    const request = submit(false);
    const echo = wireError("peer aborted the collective", "COLLECTIVE_ABORTED", 0);
    scheduler.receive(1, { t: "failed", id: request.id, error: echo, aborted: false });
    expect(request.state).toBe("running");
    const own = wireError("out of memory", "WORKER_ERROR", 0);
    scheduler.receive(0, { t: "failed", id: request.id, error: own, aborted: false });
    const outcome = await request.buffer.settled;
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toMatchObject({
      rank: 0,
      message: "Rank 0 failed: out of memory",
    });
    expect(request.state).toBe("finished");
    expect(scheduler.succeeded).toBe(0);
  });

  it("fails a request with the abort echo when the aborting rank's own error never comes", async () => {
    const { scheduler, submit } = setup();
    const request = submit(false);
    const echo = wireError("peer aborted the collective", "COLLECTIVE_ABORTED", 0);
    scheduler.receive(1, { t: "failed", id: request.id, error: echo, aborted: false });
    const abandoned = wireError("cancelled", "ABORTED", 0);
    scheduler.receive(0, { t: "failed", id: request.id, error: abandoned, aborted: true });
    const outcome = await request.buffer.settled;
    expect(!outcome.ok && outcome.error.message).toBe("Rank 1 failed: peer aborted the collective");
  });

  it("cancels a running request on every rank that still runs it, and fails the group when one does not finish within the grace period", () => {
    vi.useFakeTimers();
    const { scheduler, group, submit, done } = setup();
    const request = submit(false);
    const next = submit(false);
    done(request, 0);
    scheduler.abort(request, new Error("the consumer left"));
    expect(group.sent).toEqual([
      {
        rank: 1,
        message: {
          t: "cancel",
          id: request.id,
          reason: expect.objectContaining({ message: "the consumer left" }),
        },
      },
    ]);
    expect(request.state).toBe("settling");
    vi.advanceTimersByTime(4999);
    expect(group.failures).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(group.failures.map((error) => error.message)).toEqual([
      `Rank 1 did not finish cancelled request ${request.requestId} within 5000 ms; restarting the group`,
    ]);
    // The group's owner detaches it; the request waiting behind runs on the next group.
    scheduler.detach(group.failures[0] as Error);
    expect(request.state).toBe("finished");
    const replacement = new RecordingGroup();
    scheduler.attach(replacement);
    expect(replacement.calls.map((call) => call.id)).toEqual([next.id]);
  });

  it("starts nothing on a group that is no longer ready", () => {
    const { group, submit } = setup();
    group.state = "failed";
    const request = submit();
    expect(group.calls).toEqual([]);
    expect(request.state).toBe("queued");
  });

  it("pauses the producers while the consumer is behind, and resumes them when it has caught up or the request ends", () => {
    const { scheduler, group, submit, done } = setup({ highWaterMark: 4 });
    const request = submit();
    events(request);
    const items = [1, 2, 3, 4].map((n) => Uint8Array.of(n));
    scheduler.receive(0, { t: "results", id: request.id, items });
    expect(group.pauses).toBe(1);
    request.buffer.take();
    expect(group.resumes).toBe(0);
    request.buffer.take();
    expect(group.resumes).toBe(1);
    scheduler.receive(0, { t: "results", id: request.id, items });
    expect(group.pauses).toBe(2);
    done(request, 0);
    done(request, 1);
    expect(group.resumes).toBe(2);
    // Read after the end, the buffered results no longer move the ranks.
    events(request);
    expect([group.pauses, group.resumes]).toEqual([2, 2]);
  });

  it("runs the keepalive payload once nothing has run for its interval", () => {
    vi.useFakeTimers();
    const { group, submit, done } = setup({ keepalive: { op: "ping" } });
    const request = submit(false);
    vi.advanceTimersByTime(5000);
    expect(group.calls.map((call) => call.id)).toEqual([request.id]);
    done(request, 0);
    done(request, 1);
    vi.advanceTimersByTime(999);
    expect(group.calls).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(group.calls).toHaveLength(2);
    expect(decodeValue((group.calls[1] as { payload: Uint8Array }).payload)).toEqual({
      op: "ping",
    });
  });
});

describe("the scheduler's start of a request", () => {
  it("sends a call to several ranks held, and tells them all to go in one broadcast once the last rank acknowledged it", () => {
    const { scheduler, group, submit, ack } = setup({ worldSize: 4 });
    const request = submit();
    expect(group.calls.map((call) => [call.id, call.held])).toEqual([[request.id, true]]);
    events(request);
    ack(request, 2, 0, 3);
    expect(group.gos).toEqual([]);
    expect(request.begun).toBe(false);
    expect(events(request)).toEqual([]);
    ack(request, 1);
    expect(group.gos).toEqual([request.id]);
    expect(request.begun).toBe(true);
    expect(events(request)).toEqual([{ kind: "started" }]);
    // A repeated acknowledgement sends no second go.
    ack(request, 1);
    expect(group.gos).toEqual([request.id]);
    expect(scheduler.queueLength).toBe(0);
  });

  it("sends a call to one rank unheld: its acknowledgement begins the request, with no go", () => {
    const { group, submit, ack, done } = setup({ worldSize: 1 });
    const request = submit();
    expect(group.calls.map((call) => call.held)).toEqual([false]);
    events(request);
    ack(request, 0);
    expect(request.begun).toBe(true);
    expect(events(request)).toEqual([{ kind: "started" }]);
    done(request, 0);
    expect(group.gos).toEqual([]);
    expect(request.state).toBe("finished");
  });

  it("never sends go for a request cancelled between the acknowledgements: every rank ends it unrun", async () => {
    const { scheduler, group, submit, ack, done } = setup();
    const request = submit(false);
    const next = submit(false);
    ack(request, 0);
    const reason = new Error("the consumer left");
    scheduler.abort(request, reason);
    expect(group.sent.map(({ rank, message }) => [rank, message.t])).toEqual([
      [0, "cancel"],
      [1, "cancel"],
    ]);
    ack(request, 1);
    expect(group.gos).toEqual([]);
    const aborted = wireError("Request 1 was cancelled", "ABORTED", 0);
    for (const rank of [0, 1]) {
      scheduler.receive(rank, { t: "failed", id: request.id, error: aborted, aborted: true });
    }
    await expect(request.buffer.settled).resolves.toEqual({ ok: false, error: reason });
    expect(request.begun).toBe(false);
    // The next request starts on the same group, which was not failed.
    expect(group.calls.map((call) => call.id)).toEqual([request.id, next.id]);
    expect(group.failures).toEqual([]);
    ack(next, 0, 1);
    done(next, 0);
    done(next, 1);
    await expect(next.buffer.settled).resolves.toMatchObject({ ok: true });
    expect(group.gos).toEqual([next.id]);
  });
});

describe("the scheduler when its group dies", () => {
  const died = new Error("Rank 1 exited from signal SIGKILL");

  /** The running request of a group that died, with the promise of the group's last words. */
  function afterDeath(acknowledged: number[] = [], worldSize = 2) {
    const context = setup({ worldSize });
    const running = context.submit();
    const waiting = context.submit();
    context.ack(running, ...acknowledged);
    const drained = deferred<void>();
    context.group.fail(died);
    context.scheduler.detach(died, drained.promise);
    return { ...context, running, waiting, drained };
  }

  it("holds a request that was not told to go (one rank of two acknowledged it) until the group has drained, then runs it first on the next group, exactly once", async () => {
    const { scheduler, group, running, waiting, drained, done } = afterDeath([0]);
    expect(running.state).toBe("running");
    expect(events(waiting)).toEqual([{ kind: "queued", position: 0 }]);
    drained.resolve();
    await drained.promise;
    expect(group.gos).toEqual([]);
    expect(running.state).toBe("queued");
    expect(scheduler.queueLength).toBe(2);
    // Its stream never saw `started`, and its position (0) is what it was last told.
    expect(events(running)).toEqual([{ kind: "queued", position: 0 }]);
    // The one behind it is one further back again.
    expect(events(waiting)).toEqual([{ kind: "queued", position: 1 }]);
    const next = new RecordingGroup();
    scheduler.attach(next);
    expect(next.calls.map((call) => call.id)).toEqual([running.id]);
    expect(events(waiting)).toEqual([{ kind: "queued", position: 0 }]);
    // The dead group's acknowledgement does not count for the next one: both of its ranks must.
    scheduler.receive(0, { t: "started", id: running.id });
    expect(next.gos).toEqual([]);
    scheduler.receive(1, { t: "started", id: running.id });
    expect(next.gos).toEqual([running.id]);
    done(running, 1);
    done(running, 0, "from the next group");
    const outcome = await running.buffer.settled;
    expect(outcome.ok && decodeValue(outcome.output)).toBe("from the next group");
    expect(events(running)).toEqual([{ kind: "started" }]);
    expect(next.calls.map((call) => call.id)).toEqual([running.id, waiting.id]);
  });

  it("fails a request that every rank was told to go at once, with the group's error", async () => {
    const { group, running, waiting } = afterDeath([0, 1]);
    expect(group.gos).toEqual([running.id]);
    await expect(running.buffer.settled).resolves.toEqual({ ok: false, error: died });
    expect(running.state).toBe("finished");
    expect(waiting.state).toBe("queued");
  });

  it("sends no go to a broken group when the last acknowledgement comes after it broke, and re-queues the request", async () => {
    const { scheduler, group, running, drained } = afterDeath([0]);
    scheduler.receive(1, { t: "started", id: running.id });
    drained.resolve();
    await drained.promise;
    expect(group.gos).toEqual([]);
    expect(running.state).toBe("queued");
    expect(scheduler.queueLength).toBe(2);
  });

  it("sends no go to the next group for a request the dead group's ranks acknowledged late, before it was re-queued", async () => {
    const { scheduler, group, running, waiting, drained } = afterDeath([0]);
    const next = new RecordingGroup();
    scheduler.attach(next);
    expect(next.calls).toEqual([]);
    scheduler.receive(1, { t: "started", id: running.id });
    expect([group.gos, next.gos]).toEqual([[], []]);
    drained.resolve();
    await drained.promise;
    expect(next.calls.map((call) => call.id)).toEqual([running.id]);
    expect(waiting.state).toBe("queued");
  });

  it("fails a request whose one rank acknowledged it at once (one rank: no go)", async () => {
    const { running } = afterDeath([0], 1);
    await expect(running.buffer.settled).resolves.toEqual({ ok: false, error: died });
  });

  it("fails the waiting request of one rank when its acknowledgement arrives before the group has drained", async () => {
    const { scheduler, running, drained } = afterDeath([], 1);
    scheduler.receive(0, { t: "started", id: running.id });
    drained.resolve();
    await expect(running.buffer.settled).resolves.toEqual({ ok: false, error: died });
    expect(scheduler.queueLength).toBe(1);
  });

  it("re-queues a request of one rank that it never acknowledged", async () => {
    const { scheduler, running, drained } = afterDeath([], 1);
    drained.resolve();
    await drained.promise;
    expect(running.state).toBe("queued");
    expect(scheduler.queueLength).toBe(2);
  });

  it("fails a request waiting for the drain as the queue failed meanwhile (no group will come)", async () => {
    const { scheduler, running, waiting, drained } = afterDeath();
    const unavailable = new Error("The rank group is down (restarts are turned off)");
    scheduler.failQueued(unavailable);
    await expect(waiting.buffer.settled).resolves.toEqual({ ok: false, error: unavailable });
    drained.resolve();
    await expect(running.buffer.settled).resolves.toEqual({ ok: false, error: unavailable });
    expect(scheduler.queueLength).toBe(0);
  });

  it("fails a request waiting for the drain that is cancelled or times out meanwhile with that reason, and never re-queues it", async () => {
    const { scheduler, running, drained } = afterDeath();
    const timeout = new Error("timed out");
    scheduler.abort(running, timeout);
    drained.resolve();
    await expect(running.buffer.settled).resolves.toEqual({ ok: false, error: timeout });
    await drained.promise;
    expect(running.state).toBe("finished");
    expect(scheduler.queueLength).toBe(1);
  });

  it("ignores an acknowledgement for no running request (a broken group's rank, late)", () => {
    const { scheduler, log, running } = afterDeath([0, 1]);
    scheduler.receive(1, { t: "started", id: running.id });
    expect(log.gather()).toEqual([]);
  });
});
