import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { TCPStore } from "../collectives/store/tcp-store.ts";
import type { ImageFormat } from "../encoding/image.ts";
import {
  abortReason,
  deserializeError,
  ErrorCode,
  GroupUnavailableError,
  InvalidArgumentError,
  InvalidWorkerError,
  ProtocolError,
  RequestTimeoutError,
  RunnerStateError,
  type SerializedError,
  SetupError,
  StartTimeoutError,
  StreamIdleError,
  serializeError,
  TroupeError,
  WorkerCallError,
  WorkerExitedError,
} from "../errors.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";
import { hasMarker } from "../internal/marker.ts";
import { assertSendable } from "../internal/sendable.ts";
import { decodeValue, encodeFrame, encodeValue } from "../ipc/codec.ts";
import type { RankMessage } from "../ipc/messages.ts";
import type { DistributedWorker } from "../worker/distributed-worker.ts";
import { closeChannel, openChannels, type RankChannel } from "./channel.ts";
import { EventBuffer } from "./event-buffer.ts";
import { detectGpus } from "./gpus.ts";
import { defaultLogger, type Logger } from "./logger.ts";
import { rankEntry, rankNodeArgs } from "./node-args.ts";
import {
  type DistributedRunnerOptions,
  nonNegative,
  type ResolvedRunnerOptions,
  resolveRunnerOptions,
  show,
} from "./options.ts";
import { RankGroup } from "./rank-group.ts";
import type { RankExit } from "./rank-process.ts";
import { RunnerRequest } from "./runner-request.ts";
import { type RankResult, RunnerStream, type StreamOptions } from "./runner-stream.ts";

/** Where the runner is in its life. */
export type RunnerState =
  | "idle"
  | "starting"
  | "ready"
  | "restarting"
  | "stopping"
  | "stopped"
  | "failed";

/** Options of `runner.start()`. */
export interface StartOptions<Setup = unknown> {
  /** Fail with START_TIMEOUT if not every rank is ready after this many ms. @default 1800000 */
  readonly timeout?: number;
  /** Passed to every rank's `setup()` (and again after each restart). */
  readonly setup?: Setup;
  /** Abandons the start (the ranks are stopped) when aborted. */
  readonly signal?: AbortSignal;
}

/** Options of `runner.invoke()`. */
export interface InvokeOptions {
  /** Fail with REQUEST_TIMEOUT (and cancel on every rank) after this many ms, queue wait included. */
  readonly timeout?: number;
  /** Cancels the request on every rank when aborted. */
  readonly signal?: AbortSignal;
  /** The id the worker sees as `ctx.requestId`. @default a random UUID */
  readonly requestId?: string;
  /**
   * Encoding of the images in the final result (JPEG at quality 95, PNG or WebP). Intermediate
   * results' images are JPEG at quality 60 unless the worker asks otherwise.
   * @default "jpeg"
   */
  readonly imageFormat?: ImageFormat;
}

/** Options of `runner.stop()`. */
export interface StopOptions {
  /** How long ranks get for `teardown()` before they are killed, in ms. @default 10000 */
  readonly timeout?: number;
}

/** One rank as the runner sees it. */
export interface RankInfo {
  readonly rank: number;
  readonly pid: number | undefined;
  readonly state: "starting" | "ready" | "exited";
}

/** The type `call()` takes, for a worker class `W`. */
export type WorkerInput<W extends DistributedWorker> = Parameters<W["call"]>[0];
/** The type `call()` returns (awaited). */
export type WorkerOutput<W extends DistributedWorker> = Awaited<ReturnType<W["call"]>>;
/** The type `setup()` takes. */
export type WorkerSetup<W extends DistributedWorker> = Parameters<W["setup"]>[0];
/** The type `addStreamingResult()` takes. */
export type WorkerResult<W extends DistributedWorker> = Parameters<W["addStreamingResult"]>[0];

const RUNNER_MARKER: unique symbol = Symbol.for("troupe.DistributedRunner");
const DEFAULT_START_TIMEOUT = 30 * 60 * 1000;
const STOP_KILL_GRACE = 2000;

/**
 * Starts one process per rank and runs requests on all of them: troupe's counterpart of
 * `fal.distributed.DistributedRunner`. Requests run one at a time, in the order they were made
 * (ranks' collectives must line up); results that rank 0 streams reach that request's consumer,
 * in order, exactly once.
 *
 * @typeParam W - the worker class's instance type, for typed payloads, results and output
 * (`new DistributedRunner<MyWorker>(...)` with `import type MyWorker from "./worker.ts"`)
 *
 * @example
 * ```ts
 * await using runner = new DistributedRunner({ worker: new URL("./worker.ts", import.meta.url), worldSize: 2 });
 * await runner.start({ setup: { model: "tiny" } });
 * for await (const event of runner.stream({ prompt: "A sunset" })) console.log(event);
 * ```
 */
export class DistributedRunner<W extends DistributedWorker = DistributedWorker>
  implements AsyncDisposable
{
  /** `true` for a runner made by any copy of troupe (where `instanceof` would say no). */
  static isInstance(value: unknown): value is DistributedRunner {
    return hasMarker(value, RUNNER_MARKER);
  }

  readonly [RUNNER_MARKER] = true;
  private readonly options: ResolvedRunnerOptions;
  private readonly entry = rankEntry();
  private readonly nodeArgs: readonly string[];
  private readonly lifecycle = new AbortController();
  private logger: Logger | undefined;
  private currentState: RunnerState = "idle";
  private group: RankGroup | undefined;
  private generation = 0;
  private setupOptions: unknown;
  private startTimeout = DEFAULT_START_TIMEOUT;
  private readonly queue: RunnerRequest[] = [];
  private current: RunnerRequest | undefined;
  private nextId = 1;
  private failures: Error[] = [];
  private restartAttempts = 0;
  private readyWaiters: Deferred<void>[] = [];
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: DistributedRunnerOptions) {
    this.options = resolveRunnerOptions(options);
    this.nodeArgs = rankNodeArgs(this.entry, this.options.workerUrl);
    this.logger = this.options.logger;
  }

  /** Where the runner is in its life. */
  get state(): RunnerState {
    return this.currentState;
  }

  /** Number of ranks. */
  get worldSize(): number {
    return this.options.worldSize;
  }

  /** Requests waiting for their turn (not counting the running one). */
  get queueLength(): number {
    return this.queue.length;
  }

  /** Each rank's process and state. */
  get ranks(): readonly RankInfo[] {
    const group = this.group;
    if (group === undefined) return [];
    return group.ranks.map((rank) => ({
      rank: rank.rank,
      pid: rank.pid,
      state: !rank.alive ? "exited" : group.ready.has(rank.rank) ? "ready" : "starting",
    }));
  }

  /**
   * Starts every rank and runs `setup()` on each. Rejects naming the rank and cause if any
   * rank's setup throws or its process exits; no process is left behind then.
   */
  async start(options: StartOptions<WorkerSetup<W>> = {}): Promise<void> {
    if (this.currentState !== "idle") {
      throw this.currentState === "stopping" || this.currentState === "stopped"
        ? new RunnerStateError(ErrorCode.RUNNER_STOPPED, "Cannot start a runner that was stopped")
        : new RunnerStateError(
            ErrorCode.ALREADY_STARTED,
            "start() was already called on this runner",
          );
    }
    const timeout = options.timeout ?? DEFAULT_START_TIMEOUT;
    positiveTimeout("timeout", timeout);
    options.signal?.throwIfAborted();
    assertSendable(options.setup, "setup");
    this.setupOptions = options.setup;
    this.startTimeout = timeout;
    this.currentState = "starting";
    try {
      this.logger ??= await defaultLogger();
      await this.launch(options.signal);
    } catch (error) {
      if (this.currentState === "starting") this.currentState = "idle";
      this.rejectReadyWaiters(error);
      throw error;
    }
    this.becomeReady();
  }

  /**
   * Runs `payload` on every rank and resolves with rank 0's return value. Results streamed during
   * an invoke go nowhere (`ctx.streaming` is false).
   */
  async invoke(payload: WorkerInput<W>, options: InvokeOptions = {}): Promise<WorkerOutput<W>> {
    this.checkCallOptions(options);
    const bytes = encodePayload(payload);
    const request = this.submit(bytes, options, false);
    const output = await outcomeOf(request);
    return decodeValue(output) as WorkerOutput<W>;
  }

  /**
   * Streams `payload`'s results: each result rank 0 adds, then the final result last. With
   * `asTextEvents` each item is `data: <json>\n\n` bytes, ready for an HTTP response. The final
   * result is also `await stream.done()`. See {@link RunnerStream}.
   */
  stream(
    payload: WorkerInput<W>,
    options: StreamOptions & { readonly asTextEvents: true },
  ): RunnerStream<WorkerResult<W>, WorkerOutput<W>, Uint8Array>;
  stream(
    payload: WorkerInput<W>,
    options?: StreamOptions,
  ): RunnerStream<WorkerResult<W>, WorkerOutput<W>, WorkerResult<W> | WorkerOutput<W>>;
  stream(
    payload: WorkerInput<W>,
    options: StreamOptions = {},
  ): RunnerStream<WorkerResult<W>, WorkerOutput<W>, unknown> {
    this.checkCallOptions(options);
    if (options.streamingTimeout !== undefined) {
      positiveTimeout("streamingTimeout", options.streamingTimeout);
    }
    this.assertAccepting();
    const bytes = encodePayload(payload);
    const requestId = options.requestId ?? randomUUID();
    const withId = { ...options, requestId };
    return new RunnerStream<WorkerResult<W>, WorkerOutput<W>, unknown>(
      {
        submit: () => this.submit(bytes, withId, true),
        abort: (request, reason) => this.abort(request, reason),
      },
      options.asTextEvents === true ? "text" : "values",
      this.options.streamAllRanks,
      requestId,
    );
  }

  /** `true` when the group is up and every rank process is running. */
  isAlive(): boolean {
    return this.currentState === "ready" && this.group?.alive === true;
  }

  /**
   * Resolves once the group is up: at once when it is, after the restart in progress, or after a
   * new start when the runner had given up (`failed`). Rejects if that start fails.
   */
  async ensureAlive(): Promise<void> {
    switch (this.currentState) {
      case "ready":
        if (this.group?.alive === true) return;
        return this.waitForReady();
      case "starting":
      case "restarting":
        return this.waitForReady();
      case "failed":
        this.currentState = "restarting";
        this.restartAttempts = 0;
        void this.restartLoop(undefined, 0);
        return this.waitForReady();
      case "idle":
        throw new RunnerStateError(ErrorCode.NOT_STARTED, "Call start() before ensureAlive()");
      default:
        throw new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The runner was stopped");
    }
  }

  /** Failures recorded since the last call (ranks that died, failed restarts, protocol errors); clears them. */
  gatherErrors(): Error[] {
    const failures = this.failures;
    this.failures = [];
    return failures;
  }

  /**
   * Stops the runner: waiting requests fail with RUNNER_STOPPED, the running one is cancelled,
   * every rank runs `teardown()` and exits (killed after `timeout`).
   */
  stop(options: StopOptions = {}): Promise<void> {
    const timeout = options.timeout ?? 10_000;
    nonNegative("timeout", timeout);
    this.stopping ??= this.shutdown(timeout);
    return this.stopping;
  }

  /** Kills every rank at once (SIGKILL), without teardown. */
  terminate(): Promise<void> {
    this.stopping ??= this.shutdown(0);
    this.group?.kill("SIGKILL");
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // --- lifecycle ---------------------------------------------------------------------------------

  private async launch(signal: AbortSignal | undefined): Promise<void> {
    const signals = [this.lifecycle.signal];
    if (signal !== undefined) signals.push(signal);
    const abort = AbortSignal.any(signals);
    const gpus = await this.resolveGpus();
    // The runner hosts the group's rendezvous store, as torchrun's agent does. Its port is bound
    // here and held for the group's life, so no other process can take it between being chosen
    // and the ranks meeting there (as it could when a free port was picked for rank 0 to bind).
    const store = await TCPStore.listen({
      host: this.options.masterAddr,
      port: this.options.masterPort ?? 0,
    });
    let channels: RankChannel[] = [];
    try {
      channels = await openChannels(this.options.worldSize);
      abort.throwIfAborted();
    } catch (error) {
      for (const channel of channels) closeChannel(channel);
      await store.close();
      throw error;
    }
    const group = new RankGroup({
      generation: ++this.generation,
      worldSize: this.options.worldSize,
      workerUrl: this.options.workerUrl,
      setup: this.setupOptions,
      config: {
        streamAllRanks: this.options.streamAllRanks,
        maxPendingBytes: this.options.maxPendingBytes,
        highWaterMark: this.options.highWaterMark,
        collectiveTimeout: this.options.collectiveTimeout,
      },
      entry: this.entry,
      nodeArgs: this.nodeArgs,
      cwd: this.options.cwd,
      env: this.options.env,
      gpus: gpus.ids,
      hideGpus: gpus.hide,
      masterAddr: this.options.masterAddr,
      store,
      channels,
      onMessage: (g, rank, message) => this.onRankMessage(g, rank, message),
      onExit: (g, rank, exit) => this.onRankExit(g, rank, exit),
      onProtocolError: (g, rank, error) => this.onProtocolError(g, rank, error),
    });
    this.group = group;
    const timer = setTimeout(() => {
      const missing = group.ranks.filter((r) => !group.ready.has(r.rank)).map((r) => r.rank);
      group.startup.reject(
        new StartTimeoutError(
          `Rank${missing.length === 1 ? "" : "s"} ${missing.join(", ")} did not finish setup() within ${this.startTimeout} ms`,
          { details: { ranks: missing, timeout: this.startTimeout } },
        ),
      );
    }, this.startTimeout);
    const onAbort = (): void => group.startup.reject(abortReason(abort));
    abort.addEventListener("abort", onAbort, { once: true });
    try {
      await group.startup.promise;
    } catch (error) {
      group.kill();
      await group.exited();
      if (this.group === group) this.group = undefined;
      throw error;
    } finally {
      clearTimeout(timer);
      abort.removeEventListener("abort", onAbort);
    }
  }

  private async resolveGpus(): Promise<{ ids: readonly string[]; hide: boolean }> {
    const { gpus, worldSize } = this.options;
    if (gpus !== "auto") return { ids: gpus, hide: gpus.length === 0 };
    const env = { ...process.env, ...this.options.env };
    const detected = await detectGpus(env);
    if (detected.ids.length === 0) return { ids: [], hide: false };
    if (detected.ids.length < worldSize) {
      throw new InvalidArgumentError(
        `Expected at least ${worldSize} GPUs for worldSize ${worldSize}, found ${detected.ids.length} (${detected.source}); pass gpus: [] to run on CPU`,
      );
    }
    return { ids: detected.ids.slice(0, worldSize), hide: false };
  }

  private becomeReady(): void {
    this.currentState = "ready";
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.pump();
  }

  private waitForReady(): Promise<void> {
    const waiter = deferred<void>();
    this.readyWaiters.push(waiter);
    return waiter.promise;
  }

  private rejectReadyWaiters(error: unknown): void {
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
  }

  /** The group is broken: fail what runs, kill the rest, restart (or give up). */
  private groupFailed(error: Error): void {
    this.failures.push(error);
    this.logger?.error({ err: serializeError(error) }, error.message);
    const group = this.group;
    this.group = undefined;
    group?.kill();
    const current = this.current;
    if (current !== undefined) {
      current.buffer.fail(error);
      this.finishRequest(current);
    }
    if (!this.options.restart.enabled) {
      this.giveUp(error, "restarts are turned off");
      return;
    }
    this.currentState = "restarting";
    void this.restartLoop(group, this.restartAttempts);
  }

  private async restartLoop(old: RankGroup | undefined, attempts: number): Promise<void> {
    const { initialDelay, factor, maxDelay, maxAttempts } = this.options.restart;
    await old?.exited();
    for (let attempt = attempts; ; attempt++) {
      this.restartAttempts = attempt + 1;
      try {
        await delay(Math.min(initialDelay * factor ** attempt, maxDelay), undefined, {
          signal: this.lifecycle.signal,
        });
        await this.launch(undefined);
        this.logger?.info({ generation: this.generation }, "Rank group restarted");
        this.becomeReady();
        return;
      } catch (error) {
        if (this.lifecycle.signal.aborted) return;
        this.failures.push(error as Error);
        this.logger?.error({ err: serializeError(error) }, "Restarting the rank group failed");
        if (attempt + 1 >= maxAttempts) {
          this.giveUp(error as Error, `${maxAttempts} restarts failed`);
          return;
        }
      }
    }
  }

  private giveUp(cause: Error, why: string): void {
    this.currentState = "failed";
    const error = new GroupUnavailableError(`The rank group is down (${why}): ${cause.message}`, {
      cause,
    });
    for (const request of this.queue.splice(0)) this.finishQueued(request, error);
    this.rejectReadyWaiters(error);
  }

  private async shutdown(timeout: number): Promise<void> {
    const previous = this.currentState;
    this.currentState = "stopping";
    this.lifecycle.abort(new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The runner was stopped"));
    clearTimeout(this.keepaliveTimer);
    const error = new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The runner was stopped");
    for (const request of this.queue.splice(0)) this.finishQueued(request, error);
    this.rejectReadyWaiters(error);
    const group = this.group;
    if (group !== undefined && previous !== "idle") {
      if (this.current !== undefined) this.abort(this.current, error);
      if (timeout > 0) {
        for (const rank of group.ranks) rank.send({ t: "stop" });
        const exited = group.exited();
        const timer = setTimeout(() => {
          group.kill("SIGTERM");
          setTimeout(() => group.kill("SIGKILL"), STOP_KILL_GRACE).unref();
        }, timeout);
        await exited;
        clearTimeout(timer);
      } else {
        group.kill("SIGKILL");
        await group.exited();
      }
    }
    const current = this.current;
    if (current !== undefined) {
      current.buffer.fail(error);
      this.finishRequest(current);
    }
    this.group = undefined;
    this.currentState = "stopped";
  }

  // --- rank events -------------------------------------------------------------------------------

  private onRankMessage(group: RankGroup, rank: number, message: RankMessage): void {
    if (group !== this.group) return;
    switch (message.t) {
      case "ready":
        group.ready.add(rank);
        if (group.ready.size === group.ranks.length) group.startup.resolve();
        return;
      case "setupFailed": {
        const cause = deserializeError(message.error);
        group.startup.reject(
          cause instanceof InvalidWorkerError
            ? cause
            : new SetupError(`Rank ${rank} failed in setup(): ${message.error.message}`, {
                rank,
                cause,
              }),
        );
        return;
      }
      case "log":
        this.logger?.[message.level]({ rank }, message.msg);
        return;
      case "stopped":
        return;
      default:
        this.onRequestMessage(rank, message);
    }
  }

  private onRequestMessage(rank: number, message: Extract<RankMessage, { id: number }>): void {
    const request = this.current;
    if (request === undefined || request.id !== message.id || !request.pendingRanks.has(rank)) {
      // Never applied: a message for another request would leak its results into this one.
      const error = new ProtocolError(
        `Rank ${rank} sent "${message.t}" for request ${message.id}, but ${request === undefined ? "no request is running" : `request ${request.id} is running${request.pendingRanks.has(rank) ? "" : " and the rank already finished it"}`}; the message was rejected`,
        { rank },
      );
      this.failures.push(error);
      this.logger?.error({ rank }, error.message);
      return;
    }
    switch (message.t) {
      case "results": {
        const { buffer } = request;
        const keys = message.keys;
        for (let i = 0; i < message.items.length; i++) {
          buffer.push({
            kind: "result",
            rank,
            bytes: message.items[i] as Uint8Array,
            key: keys?.[i] ?? null,
          });
        }
        return;
      }
      case "streamError":
        request.buffer.push({ kind: "streamError", error: message.error });
        return;
      case "done":
        request.pendingRanks.delete(rank);
        if (rank === 0) request.output = message.output;
        this.maybeFinish(request);
        return;
      case "failed": {
        request.pendingRanks.delete(rank);
        const error = new WorkerCallError(`Rank ${rank} failed: ${message.error.message}`, {
          rank,
          cause: deserializeError(message.error),
        });
        if (isAbortEcho(message.error, rank)) {
          // Another rank failed and aborted the collective this one waited in: report that
          // rank's own error, which is on its way, and this one only if it never comes.
          request.abortEcho ??= error;
        } else if (!message.aborted && request.buffer.outcome === undefined) {
          request.buffer.finish({ ok: false, error });
          // The other ranks may be waiting for this one in a collective: stop them too.
          this.cancelOnRanks(request, error);
        }
        this.maybeFinish(request);
        return;
      }
    }
  }

  private onRankExit(group: RankGroup, rank: number, exit: RankExit): void {
    if (group !== this.group) return;
    const how = exit.signal !== null ? `from signal ${exit.signal}` : `with code ${exit.code}`;
    const error = new WorkerExitedError(`Rank ${rank} exited ${how}`, {
      rank,
      details: { exitCode: exit.code, signal: exit.signal },
    });
    if (this.currentState === "starting" || this.currentState === "restarting") {
      group.startup.reject(error);
      return;
    }
    if (this.currentState !== "ready") return;
    this.groupFailed(error);
  }

  private onProtocolError(group: RankGroup, rank: number, cause: unknown): void {
    if (group !== this.group) return;
    const error =
      cause instanceof ProtocolError
        ? new ProtocolError(`Rank ${rank}: ${cause.message}`, { rank, cause })
        : new ProtocolError(`Rank ${rank} sent an undecodable frame`, { rank, cause });
    if (this.currentState === "ready") this.groupFailed(error);
    else group.startup.reject(error);
  }

  // --- requests ----------------------------------------------------------------------------------

  private checkCallOptions(options: InvokeOptions | StreamOptions): void {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(`Expected options to be an object, got ${show(options)}`);
    }
    if (options.timeout !== undefined) positiveTimeout("timeout", options.timeout);
    if (options.requestId !== undefined && typeof options.requestId !== "string") {
      throw new InvalidArgumentError(
        `Expected \`requestId\` to be a string, got ${show(options.requestId)}`,
      );
    }
    const format = options.imageFormat;
    if (format !== undefined && format !== "jpeg" && format !== "png" && format !== "webp") {
      throw new InvalidArgumentError(
        `Expected \`imageFormat\` to be "jpeg", "png" or "webp", got ${show(format)}`,
      );
    }
    options.signal?.throwIfAborted();
  }

  private assertAccepting(): void {
    switch (this.currentState) {
      case "idle":
        throw new RunnerStateError(
          ErrorCode.NOT_STARTED,
          "Call start() before invoke() or stream()",
        );
      case "stopping":
      case "stopped":
        throw new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The runner was stopped");
      case "failed":
        throw new GroupUnavailableError(
          "The rank group is down and restarts gave up; call ensureAlive() to start it again",
        );
    }
  }

  private submit(
    payload: Uint8Array,
    options: InvokeOptions & Pick<StreamOptions, "streamingTimeout">,
    streaming: boolean,
  ): RunnerRequest {
    this.assertAccepting();
    const signal = options.signal;
    signal?.throwIfAborted();
    const request: RunnerRequest = new RunnerRequest(
      this.nextId++,
      options.requestId ?? randomUUID(),
      payload,
      streaming,
      new EventBuffer(
        this.options.highWaterMark,
        (paused) => this.onPressure(request, paused),
        options.streamingTimeout !== undefined,
      ),
      options.streamingTimeout,
      options.imageFormat ?? "jpeg",
    );
    if (signal !== undefined) {
      const onAbort = (): void => this.abort(request, abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
      request.cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }
    const timeout = options.timeout;
    if (timeout !== undefined) {
      const timer = setTimeout(() => {
        this.abort(
          request,
          new RequestTimeoutError(
            `RunnerRequest ${request.requestId} timed out after ${timeout} ms`,
            {
              details: { timeout },
            },
          ),
        );
      }, timeout);
      request.cleanups.push(() => clearTimeout(timer));
    }
    this.queue.push(request);
    if (streaming) request.buffer.push({ kind: "queued", position: this.queue.length - 1 });
    this.pump();
    return request;
  }

  /** Cancels a request for its consumer: out of the queue, or cancelled on every rank. */
  private abort(request: RunnerRequest, reason: Error): void {
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
        request.buffer.fail(reason);
        this.cancelOnRanks(request, reason);
    }
  }

  private finishQueued(request: RunnerRequest, error: Error): void {
    request.buffer.fail(error);
    request.state = "finished";
    request.runCleanups();
  }

  private announcePositions(from: number): void {
    for (let i = Math.max(0, from); i < this.queue.length; i++) {
      const request = this.queue[i] as RunnerRequest;
      if (request.streaming) request.buffer.push({ kind: "queued", position: i });
    }
  }

  private pump(): void {
    if (this.currentState !== "ready" || this.current !== undefined) return;
    const request = this.queue.shift();
    if (request === undefined) {
      this.armKeepalive();
      return;
    }
    clearTimeout(this.keepaliveTimer);
    this.announcePositions(0);
    this.dispatch(request);
  }

  private dispatch(request: RunnerRequest): void {
    const group = this.group as RankGroup;
    this.current = request;
    request.state = "running";
    // The same message for every rank: encoded once.
    const call = encodeFrame({
      t: "call",
      id: request.id,
      requestId: request.requestId,
      payload: request.payload,
      streaming: request.streaming,
      imageFormat: request.imageFormat,
    });
    for (const rank of group.ranks) {
      request.pendingRanks.add(rank.rank);
      rank.sendFrame(call);
    }
    if (request.streaming) request.buffer.push({ kind: "started" });
    if (request.streamingTimeout !== undefined)
      this.armIdleTimer(request, request.streamingTimeout);
  }

  private armIdleTimer(request: RunnerRequest, timeout: number): void {
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (request.state !== "running") return;
      const idle = performance.now() - request.buffer.lastPushAt;
      // A consumer that is behind is not an idle stream: the ranks are waiting for it.
      if (request.buffer.size > 0 || idle < timeout) {
        timer = setTimeout(check, request.buffer.size > 0 ? timeout : timeout - idle);
        return;
      }
      this.abort(
        request,
        new StreamIdleError(
          `RunnerRequest ${request.requestId} streamed nothing for ${timeout} ms`,
          {
            details: { streamingTimeout: timeout },
          },
        ),
      );
    };
    timer = setTimeout(check, timeout);
    request.cleanups.push(() => clearTimeout(timer));
  }

  private cancelOnRanks(request: RunnerRequest, reason: Error): void {
    if (request.state !== "running") return;
    request.state = "settling";
    const group = this.group;
    if (group === undefined) return;
    const wire = serializeError(reason);
    for (const rank of request.pendingRanks)
      group.ranks[rank]?.send({ t: "cancel", id: request.id, reason: wire });
    const timer = setTimeout(() => {
      if (this.current !== request || request.pendingRanks.size === 0) return;
      const hung = [...request.pendingRanks];
      this.groupFailed(
        new TroupeError(
          ErrorCode.REQUEST_TIMEOUT,
          `Rank${hung.length === 1 ? "" : "s"} ${hung.join(", ")} did not finish cancelled request ${request.requestId} within ${this.options.cancelGracePeriod} ms; restarting the group`,
          { details: { ranks: hung } },
        ),
      );
    }, this.options.cancelGracePeriod);
    request.cleanups.push(() => clearTimeout(timer));
  }

  private maybeFinish(request: RunnerRequest): void {
    if (request.pendingRanks.size > 0) return;
    if (request.buffer.outcome === undefined && request.abortEcho !== undefined) {
      request.buffer.finish({ ok: false, error: request.abortEcho });
    } else if (request.buffer.outcome === undefined) {
      request.buffer.finish({ ok: true, output: request.output ?? encodeValue(undefined) });
      this.restartAttempts = 0;
    }
    this.finishRequest(request);
    this.pump();
  }

  private finishRequest(request: RunnerRequest): void {
    request.state = "finished";
    request.runCleanups();
    // Results still buffered for a slow consumer stay with it, but no longer hold the ranks.
    request.buffer.detach();
    if (this.current === request) {
      this.current = undefined;
      for (const rank of this.group?.ranks ?? []) rank.resume();
    }
  }

  private onPressure(request: RunnerRequest, paused: boolean): void {
    if (this.current !== request) return;
    const ranks = this.group?.ranks ?? [];
    const producers = this.options.streamAllRanks ? ranks : ranks.slice(0, 1);
    for (const rank of producers) {
      if (paused) rank.pause();
      else rank.resume();
    }
  }

  private armKeepalive(): void {
    const keepalive = this.options.keepalive;
    if (keepalive === undefined || this.currentState !== "ready") return;
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => {
      if (this.currentState !== "ready" || this.current !== undefined || this.queue.length > 0)
        return;
      const request = this.submit(encodePayload(keepalive.payload), {}, false);
      outcomeOf(request).catch((error: unknown) => {
        this.logger?.warn({ err: serializeError(error) }, "The keepalive call failed");
      });
    }, keepalive.interval);
    this.keepaliveTimer.unref();
  }
}

function encodePayload(payload: unknown): Uint8Array {
  assertSendable(payload, "payload");
  return encodeValue(payload);
}

async function outcomeOf(request: RunnerRequest): Promise<Uint8Array> {
  for (;;) {
    const outcome = request.buffer.outcome;
    if (outcome !== undefined) {
      if (outcome.ok) return outcome.output;
      throw outcome.error;
    }
    await request.buffer.wait();
  }
}

function positiveTimeout(name: string, value: unknown): void {
  if (typeof value !== "number" || !(value > 0)) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a positive number of milliseconds, got ${show(value)}`,
    );
  }
}

export type { RankResult };

/** A rank's failure that only says another rank aborted the collective it was waiting in. */
function isAbortEcho(error: SerializedError, rank: number): boolean {
  return error.code === "COLLECTIVE_ABORTED" && error.rank !== undefined && error.rank !== rank;
}
