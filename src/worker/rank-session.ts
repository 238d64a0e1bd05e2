import { AsyncLocalStorage } from "node:async_hooks";
import { initProcessGroup } from "../collectives/init-process-group.ts";
import type { ProcessGroup } from "../collectives/process-group.ts";
import {
  InvalidWorkerError,
  ProtocolError,
  type SerializedError,
  serializeError,
} from "../errors.ts";
import { quiet } from "../internal/deferred.ts";
import { assertSendable } from "../internal/sendable.ts";
import type { LogLevel, RankConfig, RankMessage, RunnerMessage } from "../ipc/messages.ts";
import { decodeValue, encodeValue } from "../ipc/value-codec.ts";
import type { CallContext, StreamingResultOptions } from "./call-context.ts";
import { type DistributedWorker, isWorkerClass } from "./distributed-worker.ts";
import { encodeImages, finalEncoding, isUnencodedImage } from "./encode-images.ts";
import { RUNTIME } from "./rank-runtime.ts";
import type { ResultSink } from "./result-sink.ts";

const EMPTY: Uint8Array = new Uint8Array(0);
const resolved = Promise.resolve();

export interface RankSessionOptions {
  readonly rank: number;
  /** Sends a message to the runner. */
  readonly send: (message: RankMessage) => void;
  /**
   * Resolves once everything sent so far has left this process (reached the kernel); undefined
   * when it already has. @default everything leaves at once
   */
  readonly untilSent?: () => Promise<void> | undefined;
  /** Ends the process with `code` once everything sent so far has left. */
  readonly exitAfterFlush: (code: number) => void;
  /** The outbox of streamed results, made once the runner's config is known. */
  readonly createSink: (config: RankConfig) => ResultSink;
  /** Joins the world process group. @default initProcessGroup from the environment the runner set */
  readonly joinGroup?: (timeout: number) => Promise<ProcessGroup>;
}

type CallMessage = Extract<RunnerMessage, { t: "call" }>;

interface ActiveCall {
  readonly id: number;
  readonly streaming: boolean;
  readonly controller: AbortController;
  /** It waits for its `go` before call() runs. */
  readonly held: boolean;
  /**
   * A held call waiting for its `go`: `true` runs call() now, `false` (a cancel came first) ends
   * the call unrun. Undefined once used, and for a call that was not held.
   */
  release: ((go: boolean) => void) | undefined;
}

/**
 * One rank's side of the conversation with its runner: `init` loads the worker module, joins the
 * process group and runs `setup()`; then one `call` at a time, which a `cancel` may abort; `stop`
 * tears down and exits. A held call is acknowledged and waits for its `go` before `call()` runs
 * (a cancel first ends it as aborted, unrun). Messages out of turn (a call while another runs, or
 * before setup; a `go` for no held call) are a protocol error, and the rank exits. Results the worker adds go to its outbox, a
 * {@link ResultSink}; results added outside the call they belong to are dropped, with a warning.
 */
export class RankSession {
  private readonly rank: number;
  private readonly send: (message: RankMessage) => void;
  private readonly exitAfterFlush: (code: number) => void;
  private readonly untilSent: () => Promise<void> | undefined;
  private readonly createSink: (config: RankConfig) => ResultSink;
  private readonly joinGroup: (timeout: number) => Promise<ProcessGroup>;
  /** The call whose `call()` a result was added from, across its awaits and timers. */
  private readonly callScope = new AsyncLocalStorage<ActiveCall>();
  private readonly warned = new Set<string>();

  private config: RankConfig | undefined;
  private worker: DistributedWorker | undefined;
  private dist: ProcessGroup | undefined;
  private sink: ResultSink | undefined;
  private active: ActiveCall | undefined;
  private activeDone: Promise<void> | undefined;
  private stopping = false;

  constructor(options: RankSessionOptions) {
    this.rank = options.rank;
    this.send = options.send;
    this.exitAfterFlush = options.exitAfterFlush;
    this.untilSent = options.untilSent ?? (() => undefined);
    this.createSink = options.createSink;
    this.joinGroup =
      options.joinGroup ?? ((timeout) => initProcessGroup({ timeout, isStoreHost: false }));
  }

  /** Acts on one message from the runner. */
  receive(message: RunnerMessage): void {
    switch (message.t) {
      case "init":
        void this.init(message.worker, message.setup, message.config);
        return;
      case "call":
        this.call(message);
        return;
      case "go":
        this.go(message.id);
        return;
      case "cancel":
        this.cancel(message.id, message.reason);
        return;
      case "stop":
        void this.stop();
        return;
    }
  }

  /** A message that cannot be handled (malformed, or out of turn): log it and exit. */
  fatal(error: unknown): void {
    this.log("error", `Rank ${this.rank} received a message it cannot handle: ${String(error)}`);
    this.exitAfterFlush(70);
  }

  private async init(url: string, setupOptions: unknown, config: RankConfig): Promise<void> {
    this.config = config;
    // Every rank joins the world group before setup(): setup may already use collectives. It
    // joins while its worker module loads: meeting the other ranks is mostly waiting for them.
    // The runner hosts the store at MASTER_ADDR:MASTER_PORT; no rank listens there.
    const joining = quiet(this.joinGroup(config.collectiveTimeout));
    try {
      let module: Record<string, unknown>;
      try {
        module = (await import(url)) as Record<string, unknown>;
      } catch (error) {
        throw new InvalidWorkerError(`Cannot load the worker module ${url}: ${String(error)}`, {
          rank: this.rank,
          cause: error,
        });
      }
      const WorkerClass = module.default;
      if (!isWorkerClass(WorkerClass)) {
        throw new InvalidWorkerError(
          `Expected the default export of ${url} to be a class extending DistributedWorker, got ${describe(WorkerClass)}`,
          { rank: this.rank },
        );
      }
      const instance = new WorkerClass();
      this.sink = this.createSink(config);
      const dist = await joining;
      this.dist = dist;
      instance[RUNTIME] = {
        addResult: (result, options) => this.addResult(result, options),
        addError: (error) => this.addError(error),
        dist,
      };
      await instance.setup(setupOptions);
      this.worker = instance;
      this.send({ t: "ready" });
    } catch (error) {
      this.send({ t: "setupFailed", error: this.withRank(error) });
      this.exitAfterFlush(1);
    }
  }

  private call(message: CallMessage): void {
    const { worker, active } = this;
    if (worker === undefined || active !== undefined || this.stopping) {
      const state =
        worker === undefined
          ? "not set up"
          : active !== undefined
            ? `running call ${active.id}`
            : "stopping";
      this.fatal(new ProtocolError(`Call ${message.id} arrived while the rank was ${state}`));
      return;
    }
    this.activeDone = this.run(worker, message);
  }

  private go(id: number): void {
    const active = this.active;
    const release = active?.id === id ? active.release : undefined;
    if (active === undefined || release === undefined) {
      const state =
        active === undefined
          ? "no call was held"
          : active.id === id
            ? "it was not held, or already running"
            : `call ${active.id} was held`;
      this.fatal(new ProtocolError(`Go for call ${id} arrived while ${state}`));
      return;
    }
    active.release = undefined;
    release(true);
  }

  private cancel(id: number, serialized: SerializedError): void {
    // A cancel can cross a call that just finished on its way here; that one is simply done.
    const active = this.active;
    if (active === undefined || active.id !== id) return;
    const reason = new DOMException(
      `Request ${id} was cancelled: ${serialized.message}`,
      "AbortError",
    );
    active.controller.abort(reason);
    // A held call ends without running call().
    const release = active.release;
    active.release = undefined;
    release?.(false);
    // Collectives this request is waiting in fail at once, here and on every other rank.
    this.dist?.abort(reason);
    this.sink?.cancel();
  }

  private async run(instance: DistributedWorker, message: CallMessage): Promise<void> {
    const { id, requestId, payload, streaming, imageFormat, held } = message;
    const call: ActiveCall = {
      id,
      streaming,
      controller: new AbortController(),
      held,
      release: undefined,
    };
    const ctx: CallContext = { requestId, signal: call.controller.signal, streaming };
    const sink = this.sink as ResultSink;
    this.active = call;
    // Before call() runs, and before any result, on the same channel. Held, call() waits for the
    // runner's `go`, which it sends once every rank's acknowledgement arrived: a group that died
    // before then ran it nowhere. Not held (one rank), once the runner has read this, the request
    // ran here; until it has, the group's death may re-queue the request.
    this.send({ t: "started", id });
    const leaving = held ? undefined : this.untilSent();
    sink.begin(id);
    // Collectives of this request run in their own epoch: whatever an earlier, cancelled request
    // left in flight is dropped, and an abort of that one does not leak into this one.
    this.dist?.beginEpoch(id);
    try {
      const output = await this.whenReleased(call, leaving, () => {
        const input = decodeValue(payload);
        return this.callScope.run(call, () => instance.call(input, ctx));
      });
      let encoded = EMPTY;
      if (this.rank === 0) {
        const label = "the return value of call()";
        // One walk checks it and finds any image to encode; only then is it encoded and checked again.
        let value = output;
        if (assertSendable(value, label, isUnencodedImage)) {
          value = await encodeImages(output, finalEncoding(imageFormat));
          assertSendable(value, label);
        }
        encoded = encodeValue(value);
      }
      await sink.finish();
      this.send({ t: "done", id, output: encoded });
    } catch (error) {
      const aborted = call.controller.signal.aborted;
      // The other ranks may be waiting for this one in a collective: fail theirs now rather than
      // at their timeout. They report COLLECTIVE_ABORTED naming this rank; the runner reports
      // this rank's own error.
      if (!aborted) {
        this.dist?.abort(error);
        await sink.drained();
      }
      this.send({ t: "failed", id, error: this.withRank(error), aborted });
    } finally {
      sink.end();
      this.active = undefined;
    }
  }

  /**
   * Calls `start` (decode the input, run call()) once `call` may begin, and resolves with what it
   * returns. Held: in the same turn as its `go`, so a cancel read right after it finds call()
   * running; a cancel before it rejects with the cancel's reason, and `start` is never called.
   * Not held: once `leaving` (the acknowledgement on its way out of this process) has left: a
   * rank that dies before then never began it. It is out at once unless earlier messages queue.
   */
  private whenReleased(
    call: ActiveCall,
    leaving: Promise<void> | undefined,
    start: () => unknown,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const release = (go: boolean): void => {
        if (!go) {
          reject(call.controller.signal.reason);
          return;
        }
        try {
          resolve(start());
        } catch (error) {
          reject(error);
        }
      };
      if (call.held) call.release = release;
      else if (leaving === undefined) release(true);
      else leaving.then(() => release(!call.controller.signal.aborted), reject);
    });
  }

  private async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // A running call was cancelled before the stop; let it unwind before tearing down.
    await this.activeDone;
    try {
      await this.worker?.teardown();
    } catch (error) {
      this.log(
        "error",
        `Rank ${this.rank} teardown failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
    }
    try {
      await this.dist?.destroy();
    } catch (error) {
      this.log(
        "warn",
        `Rank ${this.rank} could not leave its process group cleanly: ${String(error)}`,
      );
    }
    this.send({ t: "stopped" });
    this.exitAfterFlush(0);
  }

  private addResult(result: unknown, options: StreamingResultOptions | undefined): Promise<void> {
    const call = this.streamingCall("streaming result");
    if (call === undefined) return resolved;
    if (this.rank !== 0 && this.config?.streamAllRanks !== true) {
      this.warnOnce(
        "nonzero",
        `Rank ${this.rank} dropped a streaming result: only rank 0's results reach the client. Stream from rank 0, or create the runner with { streamAllRanks: true }.`,
      );
      return resolved;
    }
    return (this.sink as ResultSink).add(result, options);
  }

  private addError(error: unknown): void {
    const call = this.streamingCall("streaming error");
    if (call === undefined) return;
    if (this.rank !== 0 && this.config?.streamAllRanks !== true) {
      this.warnOnce(
        "nonzero-error",
        `Rank ${this.rank} dropped a streaming error: only rank 0's stream reaches the client. Throw from call() to fail the request, or create the runner with { streamAllRanks: true }.`,
      );
      return;
    }
    (this.sink as ResultSink).addError(this.withRank(error));
  }

  /**
   * The streamed, uncancelled call that a result added right now belongs to; undefined (with a
   * warning where the worker would not know) if none.
   */
  private streamingCall(what: string): ActiveCall | undefined {
    const scoped = this.callScope.getStore();
    const active = this.active;
    if (scoped !== undefined && scoped !== active) {
      this.warnOnce(
        `stale:${what}`,
        `Rank ${this.rank} dropped a ${what} added by request ${scoped.id} after it ended (a timer or callback outlived its call)`,
      );
      return undefined;
    }
    if (active === undefined) {
      this.warnOnce(
        `idle:${what}`,
        `Rank ${this.rank} dropped a ${what} added while no request was running`,
      );
      return undefined;
    }
    return active.streaming && !active.controller.signal.aborted ? active : undefined;
  }

  private log(level: LogLevel, msg: string): void {
    this.send({ t: "log", level, msg });
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log("warn", msg);
  }

  private withRank(error: unknown): SerializedError {
    const serialized = serializeError(error);
    return serialized.rank === undefined ? { ...serialized, rank: this.rank } : serialized;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined (the module has no default export)";
  if (value === null) return "null";
  if (typeof value === "function") return `the function ${value.name || "(anonymous)"}`;
  return typeof value;
}
