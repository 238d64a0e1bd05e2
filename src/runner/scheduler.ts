import { randomUUID } from "node:crypto";
import type { ImageFormat } from "../encoding/image.ts";
import {
  abortReason,
  deserializeError,
  ErrorCode,
  ProtocolError,
  RequestTimeoutError,
  type SerializedError,
  StreamIdleError,
  serializeError,
  TroupeError,
  WorkerCallError,
} from "../errors.ts";
import { encodeCallFrame, encodeFrame, encodeValue } from "../ipc/index.ts";
import type { RankGroup, RequestMessage, RequestMessageSink } from "./rank-group.ts";
import type { RankLogLine } from "./request-scope.ts";
import type { RunnerLog } from "./runner-log.ts";
import { RunnerRequest } from "./runner-request.ts";

export interface SchedulerOptions {
  /** Unread results of a request above which its producers are paused. */
  readonly highWaterMark: number;
  /** How long ranks get to finish a cancelled request before their group is failed, in ms. */
  readonly cancelGracePeriod: number;
  /** A payload run every `interval` ms while nothing else runs. */
  readonly keepalive: { readonly payload: unknown; readonly interval: number } | undefined;
  readonly log: RunnerLog;
}

/** What the scheduler uses of the group it runs requests on. */
export type ScheduledGroup = Pick<
  RankGroup,
  "state" | "worldSize" | "broadcast" | "send" | "pauseResults" | "resumeResults" | "fail"
>;

/** One call as `invoke()` or `stream()` hands it over, its options checked. */
export interface Submission {
  readonly payload: Uint8Array;
  readonly streaming: boolean;
  readonly requestId?: string | undefined;
  readonly imageFormat?: ImageFormat | undefined;
  readonly timeout?: number | undefined;
  readonly streamingTimeout?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Told each line the ranks log or print while the request runs (its request scope's). */
  readonly onLog?: ((line: RankLogLine) => void) | undefined;
}

/**
 * Runs requests one at a time, in the order they came, on the rank group it is attached to
 * (ranks' collectives must line up). It owns the queue and the running request: queue positions,
 * the start (on several ranks in two phases: `call` held, every rank's `started`, then `go`),
 * timeouts, cancellation on every rank with its grace period, per-rank completion and
 * backpressure. The group delivers its ranks' request messages here (`receive`); when ranks do
 * not finish a cancelled request in time, the scheduler fails the group, whose owner restarts it.
 */
export class Scheduler implements RequestMessageSink {
  private readonly queue: RunnerRequest[] = [];
  private current: RunnerRequest | undefined;
  /** The group the running request was sent to: only that one is ever told to run it (`go`). */
  private currentGroup: ScheduledGroup | undefined;
  private group: ScheduledGroup | undefined;
  private nextId = 1;
  private completed = 0;
  private closed = false;
  /** Why the queue cannot run (`failQueued`'s error) until a group is attached again. */
  private unavailable: Error | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private readonly keepalivePayload: Uint8Array | undefined;
  /** Where each request's ranks' log lines go while it runs. */
  private readonly logTaps = new WeakMap<RunnerRequest, (line: RankLogLine) => void>();

  constructor(private readonly options: SchedulerOptions) {
    const keepalive = options.keepalive;
    // Encoded once: it is the same call every time.
    if (keepalive !== undefined) this.keepalivePayload = encodeValue(keepalive.payload);
  }

  /** Requests waiting for their turn (not counting the running one). */
  get queueLength(): number {
    return this.queue.length;
  }

  /** Requests that finished with a result so far: a group that served one was healthy. */
  get succeeded(): number {
    return this.completed;
  }

  /** Runs requests on `group` (ready) from now on. */
  attach(group: ScheduledGroup): void {
    this.group = group;
    this.unavailable = undefined;
    this.pump();
  }

  /**
   * The group is gone; the queue waits for the next one. The running request fails with `error`
   * if it had begun: `go` was sent (several ranks), or its rank said `started` (one). If not, it
   * stays the running request until `drained` (every rank of the group has exited and what it
   * sent has been read): then it fails with `error` if its one rank's acknowledgement came after
   * all, else it goes back to the head of the queue, for the next group (a dead group is never
   * sent `go`). A request no rank ran is never failed by its group's death.
   */
  detach(error: Error, drained?: Promise<void>): void {
    this.group = undefined;
    clearTimeout(this.keepaliveTimer);
    const current = this.current;
    if (current === undefined) return;
    if (drained === undefined || current.state !== "running" || current.begun) {
      current.fail(error);
      this.finish(current);
      return;
    }
    void drained.then(() => this.requeueUnstarted(current, error));
  }

  /** Fails every waiting request with `error` (the running one goes on). */
  failQueued(error: Error): void {
    this.unavailable = error;
    for (const request of this.queue.splice(0)) this.finishQueued(request, error);
  }

  /** No more requests: the waiting ones fail with `error` and the running one is cancelled. */
  close(error: Error): void {
    this.closed = true;
    clearTimeout(this.keepaliveTimer);
    this.failQueued(error);
    if (this.current !== undefined) this.abort(this.current, error);
  }

  /** Queues a call; it runs once the requests before it have finished and a group is attached. */
  submit(submission: Submission): RunnerRequest {
    const { signal, timeout } = submission;
    signal?.throwIfAborted();
    const request = new RunnerRequest({
      id: this.nextId++,
      requestId: submission.requestId ?? randomUUID(),
      payload: submission.payload,
      streaming: submission.streaming,
      imageFormat: submission.imageFormat ?? "jpeg",
      streamingTimeout: submission.streamingTimeout,
      highWaterMark: this.options.highWaterMark,
    });
    if (signal !== undefined) {
      const onAbort = (): void => this.abort(request, abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      request.onFinish(() => signal.removeEventListener("abort", onAbort));
    }
    if (timeout !== undefined) {
      const timer = setTimeout(() => {
        const message = `RunnerRequest ${request.requestId} timed out after ${timeout} ms`;
        this.abort(request, new RequestTimeoutError(message, { details: { timeout } }));
      }, timeout);
      request.onFinish(() => clearTimeout(timer));
    }
    if (submission.onLog !== undefined) this.logTaps.set(request, submission.onLog);
    this.queue.push(request);
    request.announcePosition(this.queue.length - 1);
    this.pump();
    return request;
  }

  /** Cancels a request for its consumer: out of the queue, or cancelled on every rank. */
  abort(request: RunnerRequest, reason: Error): void {
    switch (request.state) {
      case "finished":
        return;
      case "queued": {
        const index = this.queue.indexOf(request);
        if (index >= 0) this.queue.splice(index, 1);
        this.finishQueued(request, reason);
        this.announcePositions(index);
        return;
      }
      default:
        request.fail(reason);
        this.cancelOnRanks(request, reason);
    }
  }

  /** A rank's message about a request; one for any request but the running one is rejected. */
  receive(rank: number, message: RequestMessage): void {
    const request = this.current;
    const applies = request !== undefined && request.id === message.id && request.isPendingOn(rank);
    if (message.t === "started") {
      // An acknowledgement carries nothing that could leak into another request. One for no
      // running request is a broken group's rank that took its request after it was failed.
      if (applies && request.rankAcknowledged(rank)) this.release(request);
      return;
    }
    if (!applies) {
      // Never applied: a message for another request would leak its results into this one.
      const error = new ProtocolError(
        `Rank ${rank} sent "${message.t}" for request ${message.id}, but ${request === undefined ? "no request is running" : `request ${request.id} is running${request.isPendingOn(rank) ? "" : " and the rank already finished it"}`}; the message was rejected`,
        { rank },
      );
      this.options.log.failure(error, { rank });
      return;
    }
    switch (message.t) {
      case "results": {
        const { buffer } = request;
        const { items, keys } = message;
        for (let i = 0; i < items.length; i++) {
          buffer.push({
            kind: "result",
            rank,
            bytes: items[i] as Uint8Array,
            key: keys?.[i] ?? null,
          });
        }
        return;
      }
      case "streamError":
        request.buffer.push({ kind: "streamError", error: message.error });
        return;
      case "done":
        request.rankReturned(rank, message.output);
        break;
      case "failed": {
        const error = new WorkerCallError(`Rank ${rank} failed: ${message.error.message}`, {
          rank,
          cause: deserializeError(message.error),
        });
        const echo = isAbortEcho(message.error, rank);
        if (request.rankFailed(rank, error, { echo, aborted: message.aborted })) {
          this.cancelOnRanks(request, error);
        }
        break;
      }
    }
    if (request.allRanksDone) {
      this.finish(request);
      this.pump();
    }
  }

  private finishQueued(request: RunnerRequest, error: Error): void {
    request.fail(error);
    request.finish();
  }

  private announcePositions(from: number): void {
    for (let i = Math.max(0, from); i < this.queue.length; i++) {
      (this.queue[i] as RunnerRequest).announcePosition(i);
    }
  }

  private pump(): void {
    const group = this.group;
    if (group === undefined || group.state !== "ready" || this.current !== undefined) return;
    const request = this.queue.shift();
    if (request === undefined) {
      this.armKeepalive();
      return;
    }
    clearTimeout(this.keepaliveTimer);
    this.announcePositions(0);
    this.dispatch(request, group);
  }

  private dispatch(request: RunnerRequest, group: ScheduledGroup): void {
    this.current = request;
    // One request runs at a time: what the ranks log from now on is its.
    this.options.log.tap = this.logTaps.get(request);
    this.currentGroup = group;
    const dispatch = request.start(group.worldSize, group);
    // The same message for every rank: encoded once.
    group.broadcast(
      encodeCallFrame({
        t: "call",
        id: request.id,
        requestId: request.requestId,
        payload: request.payload,
        streaming: request.streaming,
        imageFormat: request.imageFormat,
        held: request.held,
      }),
    );
    if (request.streamingTimeout !== undefined)
      this.armIdleTimer(request, request.streamingTimeout, dispatch);
  }

  /**
   * Every rank acknowledged the held running request: it runs now, on every rank (one broadcast,
   * after one round trip). A group that broke since gets no `go`: the request waits, unrun, for
   * `detach` to re-queue it.
   */
  private release(request: RunnerRequest): void {
    const group = this.group;
    if (group === undefined || group !== this.currentGroup || group.state !== "ready") return;
    request.release();
    group.broadcast(encodeFrame({ t: "go", id: request.id }));
  }

  /**
   * The drained group's running request, which had not begun when it died: it fails if its one
   * rank's acknowledgement came since; else it is queued first again (or fails as queued requests
   * did meanwhile, when the queue cannot run).
   */
  private requeueUnstarted(request: RunnerRequest, error: Error): void {
    if (this.current !== request) return;
    if (request.state !== "running" || request.begun) {
      request.fail(error);
      this.finish(request);
      return;
    }
    this.current = undefined;
    this.currentGroup = undefined;
    request.requeue();
    if (this.unavailable !== undefined) {
      this.finishQueued(request, this.unavailable);
      return;
    }
    this.queue.unshift(request);
    // Its own position is 0 as it was last told; the requests behind it moved down one.
    this.announcePositions(1);
    this.options.log.info(
      { requestId: request.requestId },
      "Request re-queued: its rank group died before any rank began it",
    );
    this.pump();
  }

  private armIdleTimer(request: RunnerRequest, timeout: number, dispatch: number): void {
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (!request.isRunningAs(dispatch)) return;
      const idle = performance.now() - request.buffer.lastPushAt;
      // A consumer that is behind is not an idle stream: the ranks are waiting for it.
      if (request.buffer.size > 0 || idle < timeout) {
        timer = setTimeout(check, request.buffer.size > 0 ? timeout : timeout - idle);
        return;
      }
      const message = `RunnerRequest ${request.requestId} streamed nothing for ${timeout} ms`;
      this.abort(request, new StreamIdleError(message, { details: { streamingTimeout: timeout } }));
    };
    timer = setTimeout(check, timeout);
    request.onFinish(() => clearTimeout(timer));
  }

  private cancelOnRanks(request: RunnerRequest, reason: Error): void {
    if (!request.settle()) return;
    const group = this.group;
    if (group === undefined) return;
    const wire = serializeError(reason);
    for (const rank of request.pendingRanks)
      group.send(rank, { t: "cancel", id: request.id, reason: wire });
    const grace = this.options.cancelGracePeriod;
    const timer = setTimeout(() => {
      if (this.current !== request || request.allRanksDone) return;
      const hung = request.pendingRanks;
      // The group fails, and its owner restarts it; that fails this request too.
      group.fail(
        new TroupeError(
          ErrorCode.REQUEST_TIMEOUT,
          `Rank${hung.length === 1 ? "" : "s"} ${hung.join(", ")} did not finish cancelled request ${request.requestId} within ${grace} ms; restarting the group`,
          { details: { ranks: hung } },
        ),
      );
    }, grace);
    request.onFinish(() => clearTimeout(timer));
  }

  private finish(request: RunnerRequest): void {
    if (request.finish()) this.completed++;
    if (this.current === request) {
      this.current = undefined;
      this.currentGroup = undefined;
      this.options.log.tap = undefined;
      this.group?.resumeResults();
    }
  }

  private armKeepalive(): void {
    const keepalive = this.options.keepalive;
    const payload = this.keepalivePayload;
    if (keepalive === undefined || payload === undefined || this.closed) return;
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => {
      if (this.group === undefined || this.current !== undefined || this.queue.length > 0) return;
      const request = this.submit({ payload, streaming: false });
      void request.buffer.settled.then((outcome) => {
        if (!outcome.ok) {
          this.options.log.warn(
            { err: serializeError(outcome.error) },
            "The keepalive call failed",
          );
        }
      });
    }, keepalive.interval);
    this.keepaliveTimer.unref();
  }
}

/** A rank's failure that only says another rank aborted the collective it was waiting in. */
function isAbortEcho(error: SerializedError, rank: number): boolean {
  return error.code === "COLLECTIVE_ABORTED" && error.rank !== undefined && error.rank !== rank;
}
