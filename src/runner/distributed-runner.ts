import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { TCPStore } from "../collectives/store/tcp-store.ts";
import { ErrorCode, GroupUnavailableError, RunnerStateError, serializeError } from "../errors.ts";
import { type Deferred, deferred } from "../internal/deferred.ts";
import { hasMarker } from "../internal/marker.ts";
import { assertSendable } from "../internal/sendable.ts";
import { decodeValue } from "../ipc/index.ts";
import type { DistributedWorker } from "../worker/distributed-worker.ts";
import {
  checkCallOptions,
  encodePayload,
  type InvokeOptions,
  positiveTimeout,
  type StartOptions,
  type StopOptions,
} from "./call-options.ts";
import { closeChannel, openChannels, type RankChannel } from "./channel.ts";
import { assignGpus } from "./gpus.ts";
import { rankEntry, rankNodeArgs } from "./node-args.ts";
import {
  type DistributedRunnerOptions,
  nonNegative,
  type ResolvedRunnerOptions,
  resolveRunnerOptions,
} from "./options.ts";
import { RankGroup, type RankGroupSpec, type RankInfo } from "./rank-group.ts";
import { currentRequestScope, type RequestScope } from "./request-scope.ts";
import { RunnerLog } from "./runner-log.ts";
import type { RunnerRequest } from "./runner-request.ts";
import { type RankResult, RunnerStream, type StreamOptions } from "./runner-stream.ts";
import { Scheduler } from "./scheduler.ts";

export type { InvokeOptions, RankInfo, RankResult, StartOptions, StopOptions };

/** Where the runner is in its life. */
export type RunnerState =
  | "idle"
  | "starting"
  | "ready"
  | "restarting"
  | "stopping"
  | "stopped"
  | "failed";

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

/**
 * Starts one process per rank and runs requests on all of them: troupe's counterpart of
 * `fal.distributed.DistributedRunner`. Requests run one at a time, in the order they were made
 * (ranks' collectives must line up); results that rank 0 streams reach that request's consumer,
 * in order, exactly once.
 *
 * The runner is the public API and the lifecycle (torch's elastic agent): it starts a
 * {@link RankGroup}, hands it to its {@link Scheduler} once ready, awaits the group's failure and
 * restarts it under the restart policy. The group owns its ranks' readiness and failure; the
 * scheduler owns the requests.
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
  private readonly log: RunnerLog;
  private readonly scheduler: Scheduler;
  private currentState: RunnerState = "idle";
  private spec: RankGroupSpec | undefined;
  private group: RankGroup | undefined;
  /**
   * Resolves once every rank of the groups that broke has exited: no new group starts, and no
   * stop resolves, before that (a rank never outlives its group into the next one).
   */
  private retired: Promise<void> = Promise.resolve();
  private generation = 0;
  private restartAttempts = 0;
  /** `scheduler.succeeded` when the group became ready: more since then proves it was healthy. */
  private succeededAtReady = 0;
  private readyWaiters: Deferred<void>[] = [];
  private stopping: Promise<void> | undefined;

  constructor(options: DistributedRunnerOptions) {
    this.options = resolveRunnerOptions(options);
    this.nodeArgs = rankNodeArgs(this.entry, this.options.workerUrl);
    this.log = new RunnerLog(this.options.logger);
    this.scheduler = new Scheduler({
      highWaterMark: this.options.highWaterMark,
      cancelGracePeriod: this.options.cancelGracePeriod,
      keepalive: this.options.keepalive,
      log: this.log,
    });
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
    return this.scheduler.queueLength;
  }

  /** Each rank's process and state. */
  get ranks(): readonly RankInfo[] {
    return this.group?.info() ?? [];
  }

  /**
   * Starts every rank and runs `setup()` on each. Rejects naming the rank and cause if any
   * rank's setup throws or its process exits; no process is left behind then, and calls made
   * meanwhile fail with the same error.
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
    const { options: resolved } = this;
    this.spec = {
      worldSize: resolved.worldSize,
      workerUrl: resolved.workerUrl,
      setup: options.setup,
      config: {
        streamAllRanks: resolved.streamAllRanks,
        maxPendingBytes: resolved.maxPendingBytes,
        highWaterMark: resolved.highWaterMark,
        collectiveTimeout: resolved.collectiveTimeout,
      },
      entry: this.entry,
      nodeArgs: this.nodeArgs,
      cwd: resolved.cwd,
      env: resolved.env,
      masterAddr: resolved.masterAddr,
      startTimeout: timeout,
    };
    this.currentState = "starting";
    let group: RankGroup;
    try {
      await this.log.open();
      group = await this.launch(options.signal);
    } catch (error) {
      if (this.currentState === "starting") {
        this.currentState = "idle";
        this.scheduler.failQueued(error as Error);
      }
      this.rejectReadyWaiters(error);
      throw error;
    }
    this.becomeReady(group);
  }

  /**
   * Runs `payload` on every rank and resolves with rank 0's return value. Results streamed during
   * an invoke go nowhere (`ctx.streaming` is false).
   */
  async invoke(payload: WorkerInput<W>, options: InvokeOptions = {}): Promise<WorkerOutput<W>> {
    checkCallOptions(options);
    const request = this.submit(encodePayload(payload), options, false, currentRequestScope());
    const outcome = await request.buffer.settled;
    if (!outcome.ok) throw outcome.error;
    return decodeValue(outcome.output) as WorkerOutput<W>;
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
    checkCallOptions(options);
    this.assertAccepting();
    const bytes = encodePayload(payload);
    // Made for a server request (an endpoint's handler): its id, and its ranks' logs go there.
    const scope = currentRequestScope();
    const requestId = options.requestId ?? scope?.requestId ?? randomUUID();
    const withId = { ...options, requestId };
    return new RunnerStream<WorkerResult<W>, WorkerOutput<W>, unknown>(
      {
        submit: () => this.submit(bytes, withId, true, scope),
        abort: (request, reason) => this.scheduler.abort(request, reason),
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
        void this.restartLoop(0);
        return this.waitForReady();
      case "idle":
        throw new RunnerStateError(ErrorCode.NOT_STARTED, "Call start() before ensureAlive()");
      default:
        throw new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The runner was stopped");
    }
  }

  /** Failures recorded since the last call (ranks that died, failed restarts, protocol errors); clears them. */
  gatherErrors(): Error[] {
    return this.log.gather();
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
    // A stop already under way may be waiting for teardown: cut it short.
    void this.group?.stop(0);
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // --- lifecycle ---------------------------------------------------------------------------------

  /** Starts a new group and resolves with it once every rank is ready; no process is left if not. */
  private async launch(signal: AbortSignal | undefined): Promise<RankGroup> {
    const abort =
      signal === undefined
        ? this.lifecycle.signal
        : AbortSignal.any([this.lifecycle.signal, signal]);
    const { gpus, worldSize, env } = this.options;
    const assigned = await assignGpus(gpus, worldSize, { ...process.env, ...env });
    // The runner hosts the group's rendezvous store, as torchrun's agent does. Its port is bound
    // here and held for the group's life, so no other process can take it between being chosen
    // and the ranks meeting there (as it could when a free port was picked for rank 0 to bind).
    const store = await TCPStore.listen({
      host: this.options.masterAddr,
      port: this.options.masterPort ?? 0,
    });
    let channels: RankChannel[] = [];
    try {
      channels = await openChannels(worldSize);
      abort.throwIfAborted();
    } catch (error) {
      for (const channel of channels) closeChannel(channel);
      await store.close();
      throw error;
    }
    const group = new RankGroup(this.spec as RankGroupSpec, {
      generation: ++this.generation,
      gpus: assigned.ids,
      hideGpus: assigned.hide,
      store,
      channels,
      sink: this.scheduler,
      log: this.log,
      signal: abort,
    });
    this.group = group;
    try {
      await group.ready;
    } catch (error) {
      // The group killed its ranks when it failed.
      await group.exited();
      if (this.group === group) this.group = undefined;
      throw error;
    }
    return group;
  }

  private becomeReady(group: RankGroup): void {
    this.currentState = "ready";
    this.succeededAtReady = this.scheduler.succeeded;
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.scheduler.attach(group);
    void this.superviseUntilFailure(group);
  }

  /** Awaits the group's first failure, then restarts it or gives up (torch's agent's monitor loop). */
  private async superviseUntilFailure(group: RankGroup): Promise<void> {
    const error = await group.failure;
    if (this.group !== group || this.currentState !== "ready") return;
    this.log.failure(error);
    this.group = undefined;
    this.retire(group);
    // The running request waits for the group's last words if no rank has said it began it.
    this.scheduler.detach(error, group.exited());
    // A group that served a request was healthy: its failure starts the count of restarts anew.
    if (this.scheduler.succeeded > this.succeededAtReady) this.restartAttempts = 0;
    if (!this.options.restart.enabled) {
      this.giveUp(error, "restarts are turned off");
      return;
    }
    this.currentState = "restarting";
    void this.restartLoop(this.restartAttempts);
  }

  private async restartLoop(attempts: number): Promise<void> {
    const { initialDelay, factor, maxDelay, maxAttempts } = this.options.restart;
    // Also after ensureAlive(), which may come before the group that broke has exited.
    await this.retired;
    for (let attempt = attempts; ; attempt++) {
      this.restartAttempts = attempt + 1;
      try {
        await delay(Math.min(initialDelay * factor ** attempt, maxDelay), undefined, {
          signal: this.lifecycle.signal,
        });
        const group = await this.launch(undefined);
        this.log.info({ generation: group.generation }, "Rank group restarted");
        this.becomeReady(group);
        return;
      } catch (error) {
        if (this.lifecycle.signal.aborted) return;
        this.log.failure(
          error as Error,
          { err: serializeError(error) },
          "Restarting the rank group failed",
        );
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
    this.scheduler.failQueued(error);
    this.rejectReadyWaiters(error);
  }

  private async shutdown(timeout: number): Promise<void> {
    const previous = this.currentState;
    this.currentState = "stopping";
    const error = new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The runner was stopped");
    this.lifecycle.abort(error);
    this.scheduler.close(error);
    this.rejectReadyWaiters(error);
    const group = this.group;
    if (group !== undefined && previous !== "idle") await group.stop(timeout);
    // A group that broke just before (its ranks killed, the restart not begun) is exiting still.
    await this.retired;
    this.scheduler.detach(error);
    this.group = undefined;
    this.currentState = "stopped";
  }

  /** Counts `group`'s ranks among those that must have exited before the next group starts. */
  private retire(group: RankGroup): void {
    const before = this.retired;
    this.retired = Promise.all([before, group.exited()]).then(() => {});
  }

  private waitForReady(): Promise<void> {
    const waiter = deferred<void>();
    this.readyWaiters.push(waiter);
    return waiter.promise;
  }

  private rejectReadyWaiters(error: unknown): void {
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(error);
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
    scope: RequestScope | undefined,
  ): RunnerRequest {
    this.assertAccepting();
    return this.scheduler.submit({
      payload,
      streaming,
      requestId: options.requestId ?? scope?.requestId,
      onLog: scope?.log,
      imageFormat: options.imageFormat,
      timeout: options.timeout,
      streamingTimeout: options.streamingTimeout,
      signal: options.signal,
    });
  }
}
