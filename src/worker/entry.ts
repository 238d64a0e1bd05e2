/**
 * The main file of every rank process. The runner starts it with torchrun's environment (RANK,
 * WORLD_SIZE, …) and a control channel on file descriptor 3; it loads the worker module, runs
 * `setup()`, then one `call()` per request until told to stop. When the channel closes (the runner
 * is gone) the rank exits at once, so a runner that dies leaves no orphans.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Socket } from "node:net";
import { initProcessGroup } from "../collectives/init-process-group.ts";
import type { ProcessGroup } from "../collectives/process-group.ts";
import type { ImageFormat } from "../encoding/image.ts";
import {
  InvalidArgumentError,
  InvalidWorkerError,
  ProtocolError,
  type SerializedError,
  serializeError,
} from "../errors.ts";
import { assertSendable } from "../internal/sendable.ts";
import {
  decodeValue,
  encodeFrame,
  encodeValue,
  FrameDecoder,
  parseRunnerMessage,
} from "../ipc/codec.ts";
import type { LogLevel, RankConfig, RankMessage, RunnerMessage } from "../ipc/messages.ts";
import type { CallContext, StreamingResultOptions } from "./call-context.ts";
import { type DistributedWorker, isWorkerClass } from "./distributed-worker.ts";
import { encodeImages, finalEncoding, isUnencodedImage, previewEncoding } from "./encode-images.ts";
import { rankIdentityFromEnv } from "./rank-env.ts";
import { RUNTIME } from "./rank-runtime.ts";
import { ResultSink } from "./result-sink.ts";
import { Throttle } from "./throttle.ts";

const CHANNEL_FD = 3;
const EMPTY: Uint8Array = new Uint8Array(0);

interface ActiveCall {
  readonly id: number;
  readonly streaming: boolean;
  readonly controller: AbortController;
  /**
   * Settles when every result added so far with images to encode is in the outbox. While it is
   * pending, later results and errors queue behind it, so encoding never reorders the stream.
   */
  ordered: Promise<void> | undefined;
  /** The first failure of a result added earlier (encoding it, say); fails the call. */
  lateError: unknown;
  /** Results added with `throttle`, waiting for their interval to end. */
  throttle: Throttle<ThrottledResult> | undefined;
}

/** A result held back by `throttle` or `every`, already checked. */
interface ThrottledResult {
  readonly value: unknown;
  readonly options: StreamingResultOptions | undefined;
  /** It holds images to encode. */
  readonly images: boolean;
}

const { rank } = rankIdentityFromEnv();
const channel = new Socket({ fd: CHANNEL_FD, readable: true, writable: true });
const decoder = new FrameDecoder();
const callScope = new AsyncLocalStorage<ActiveCall>();
const warned = new Set<string>();

let config: RankConfig | undefined;
let worker: DistributedWorker | undefined;
let dist: ProcessGroup | undefined;
let sink: ResultSink | undefined;
let active: ActiveCall | undefined;
let activeDone: Promise<void> | undefined;
let stopping = false;

function send(message: RankMessage): void {
  channel.write(encodeFrame(message));
}

function log(level: LogLevel, msg: string): void {
  send({ t: "log", level, msg });
}

function warnOnce(key: string, msg: string): void {
  if (warned.has(key)) return;
  warned.add(key);
  log("warn", msg);
}

function exitAfterFlush(code: number): void {
  channel.end(() => process.exit(code));
}

channel.on("data", (chunk: Buffer) => {
  let messages: unknown[];
  try {
    messages = decoder.push(chunk);
  } catch (error) {
    fatal(error);
    return;
  }
  for (const raw of messages) {
    let message: RunnerMessage;
    try {
      message = parseRunnerMessage(raw);
    } catch (error) {
      fatal(error);
      return;
    }
    handle(message);
  }
});
// The runner is gone (it exited, crashed or closed the channel): leave at once.
channel.on("end", () => process.exit(0));
channel.on("error", () => process.exit(0));

function fatal(error: unknown): void {
  log("error", `Rank ${rank} received a message it cannot handle: ${String(error)}`);
  exitAfterFlush(70);
}

function handle(message: RunnerMessage): void {
  switch (message.t) {
    case "init":
      void init(message.worker, message.setup, message.config);
      return;
    case "call":
      if (worker === undefined || active !== undefined || stopping) {
        fatal(
          new ProtocolError(
            `Call ${message.id} arrived while the rank was ${worker === undefined ? "not set up" : active !== undefined ? `running call ${active.id}` : "stopping"}`,
          ),
        );
        return;
      }
      activeDone = runCall(
        worker,
        message.id,
        message.requestId,
        message.payload,
        message.streaming,
        message.imageFormat,
      );
      return;
    case "cancel":
      // A cancel can cross a call that just finished on its way here; that one is simply done.
      if (active !== undefined && active.id === message.id) {
        const reason = cancelReason(message.id, message.reason);
        active.controller.abort(reason);
        active.throttle?.clear();
        // Collectives this request is waiting in fail at once, here and on every other rank.
        dist?.abort(reason);
        sink?.discard();
      }
      return;
    case "stop":
      void stop();
      return;
  }
}

function cancelReason(id: number, reason: SerializedError): DOMException {
  return new DOMException(`Request ${id} was cancelled: ${reason.message}`, "AbortError");
}

async function init(url: string, setupOptions: unknown, rankConfig: RankConfig): Promise<void> {
  config = rankConfig;
  try {
    let module: Record<string, unknown>;
    try {
      module = (await import(url)) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidWorkerError(`Cannot load the worker module ${url}: ${String(error)}`, {
        rank,
        cause: error,
      });
    }
    const WorkerClass = module.default;
    if (!isWorkerClass(WorkerClass)) {
      throw new InvalidWorkerError(
        `Expected the default export of ${url} to be a class extending DistributedWorker, got ${describe(WorkerClass)}`,
        { rank },
      );
    }
    const instance = new WorkerClass();
    sink = new ResultSink({
      channel,
      fd: CHANNEL_FD,
      rank,
      highWaterMark: rankConfig.highWaterMark,
      maxPendingBytes: rankConfig.maxPendingBytes,
    });
    // Every rank joins the world group before setup(), from the environment the runner set
    // (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT): setup may already use collectives.
    // The runner hosts the store at MASTER_ADDR:MASTER_PORT; no rank listens there.
    dist = await initProcessGroup({ timeout: rankConfig.collectiveTimeout, isStoreHost: false });
    instance[RUNTIME] = { addResult, addError, dist };
    await instance.setup(setupOptions);
    worker = instance;
    send({ t: "ready" });
  } catch (error) {
    send({ t: "setupFailed", error: withRank(error) });
    exitAfterFlush(1);
  }
}

/** The call that a result added right now belongs to, or undefined (with a warning) if none. */
function currentCall(what: string): ActiveCall | undefined {
  const scoped = callScope.getStore();
  if (scoped !== undefined && scoped !== active) {
    warnOnce(
      `stale:${what}`,
      `Rank ${rank} dropped a ${what} added by request ${scoped.id} after it ended (a timer or callback outlived its call)`,
    );
    return undefined;
  }
  if (active === undefined) {
    warnOnce(`idle:${what}`, `Rank ${rank} dropped a ${what} added while no request was running`);
    return undefined;
  }
  return active;
}

const resolved = Promise.resolve();

function addResult(result: unknown, options: StreamingResultOptions | undefined): Promise<void> {
  const call = currentCall("streaming result");
  if (call === undefined || !call.streaming || call.controller.signal.aborted) return resolved;
  if (rank !== 0 && config?.streamAllRanks !== true) {
    warnOnce(
      "nonzero",
      `Rank ${rank} dropped a streaming result: only rank 0's results reach the client. Stream from rank 0, or create the runner with { streamAllRanks: true }.`,
    );
    return resolved;
  }
  // A plain result (most are) while the rank is idle: checked, encoded and written in one pass.
  if (
    options?.latestWins === undefined &&
    options?.throttle === undefined &&
    options?.every === undefined &&
    call.ordered === undefined &&
    (sink as ResultSink).sendPlainNow(result)
  ) {
    return resolved;
  }
  // Checked now, so a bad result throws where the worker added it. The walk stops at the first
  // image to encode; the rest is checked once the images are encoded.
  const images = assertSendable(result, "result", isUnencodedImage);
  const interval = options?.throttle;
  const every = options?.every;
  if (interval !== undefined || every !== undefined) {
    if (interval !== undefined && !(typeof interval === "number" && interval >= 0)) {
      throw new InvalidArgumentError(
        `Expected \`throttle\` to be a non-negative number of ms, got ${String(interval)}`,
      );
    }
    if (every !== undefined && !(Number.isSafeInteger(every) && every >= 1)) {
      throw new InvalidArgumentError(
        `Expected \`every\` to be a positive integer, got ${String(every)}`,
      );
    }
    if (interval !== undefined && every !== undefined) {
      throw new InvalidArgumentError("Give `throttle` or `every`, not both");
    }
    call.throttle ??= new Throttle(({ value, options: rest, images: encode }) => {
      // A throttled result goes out later; a failure then fails the call.
      enqueueResult(call, value, rest, encode).catch((error: unknown) => {
        call.lateError ??= error;
      });
    });
    const key = options?.latestWins ?? "";
    const item = { value: result, options, images };
    if (every !== undefined) call.throttle.addEvery(key, every, item);
    else call.throttle.add(key, interval as number, item);
    return resolved;
  }
  return enqueueResult(call, result, options, images);
}

function enqueueResult(
  call: ActiveCall,
  result: unknown,
  options: StreamingResultOptions | undefined,
  images: boolean,
): Promise<void> {
  const key = options?.latestWins ?? null;
  if (call.ordered === undefined && !images) {
    return (sink as ResultSink).addValue(result, key);
  }
  // Images to encode: start now (in parallel with earlier ones), enqueue in order.
  const encoding = encodeImages(result, previewEncoding(options?.imageFormat));
  const previous = call.ordered ?? resolved;
  const added = Promise.all([encoding, previous]).then(([value]) => {
    if (active !== call || call.controller.signal.aborted) return;
    assertSendable(value, "result");
    return (sink as ResultSink).addValue(value, key);
  });
  setOrdered(
    call,
    added.then(
      () => undefined,
      (error: unknown) => {
        call.lateError ??= error;
      },
    ),
  );
  // A worker that does not await it still fails its call with the error; no unhandled rejection.
  added.catch(() => {});
  return added;
}

function addError(error: unknown): void {
  const call = currentCall("streaming error");
  if (call === undefined || !call.streaming || call.controller.signal.aborted) return;
  if (rank !== 0 && config?.streamAllRanks !== true) {
    warnOnce(
      "nonzero-error",
      `Rank ${rank} dropped a streaming error: only rank 0's stream reaches the client. Throw from call() to fail the request, or create the runner with { streamAllRanks: true }.`,
    );
    return;
  }
  const serialized = withRank(error);
  if (call.ordered === undefined) (sink as ResultSink).addError(serialized);
  else {
    setOrdered(
      call,
      call.ordered.then(() => {
        if (active === call) (sink as ResultSink).addError(serialized);
      }),
    );
  }
}

/** Makes `tail` the end of the call's ordered queue; the fast path returns once it settled. */
function setOrdered(call: ActiveCall, tail: Promise<void>): void {
  call.ordered = tail;
  void tail.then(() => {
    if (call.ordered === tail) call.ordered = undefined;
  });
}

async function runCall(
  instance: DistributedWorker,
  id: number,
  requestId: string,
  payload: Uint8Array,
  streaming: boolean,
  imageFormat: ImageFormat,
): Promise<void> {
  const call: ActiveCall = {
    id,
    streaming,
    controller: new AbortController(),
    ordered: undefined,
    lateError: undefined,
    throttle: undefined,
  };
  const ctx: CallContext = { requestId, signal: call.controller.signal, streaming };
  const outbox = sink as ResultSink;
  active = call;
  outbox.begin(id);
  // Collectives of this request run in their own epoch: whatever an earlier, cancelled request
  // left in flight is dropped, and an abort of that one does not leak into this one.
  dist?.beginEpoch(id);
  try {
    const input = decodeValue(payload);
    const output = await callScope.run(call, () => instance.call(input, ctx));
    let encoded = EMPTY;
    if (rank === 0) {
      const label = "the return value of call()";
      // One walk checks it and finds any image to encode; only then is it encoded and checked again.
      let value = output;
      if (assertSendable(value, label, isUnencodedImage)) {
        value = await encodeImages(output, finalEncoding(imageFormat));
        assertSendable(value, label);
      }
      encoded = encodeValue(value);
    }
    // The newest throttled results go out now, then everything queued behind an encode.
    call.throttle?.flush();
    while (call.ordered !== undefined) await call.ordered;
    if (call.lateError !== undefined) throw call.lateError;
    await outbox.drained();
    send({ t: "done", id, output: encoded });
  } catch (error) {
    const aborted = call.controller.signal.aborted;
    // The other ranks may be waiting for this one in a collective: fail theirs now rather than
    // at their timeout. They report COLLECTIVE_ABORTED naming this rank; the runner reports
    // this rank's own error.
    if (!aborted) dist?.abort(error);
    if (aborted) outbox.discard();
    else await outbox.drained();
    send({ t: "failed", id, error: withRank(error), aborted });
  } finally {
    call.throttle?.clear();
    active = undefined;
  }
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // A running call was cancelled before the stop; let it unwind before tearing down.
  await activeDone;
  try {
    await worker?.teardown();
  } catch (error) {
    log(
      "error",
      `Rank ${rank} teardown failed: ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
  try {
    await dist?.destroy();
  } catch (error) {
    log("warn", `Rank ${rank} could not leave its process group cleanly: ${String(error)}`);
  }
  send({ t: "stopped" });
  exitAfterFlush(0);
}

function withRank(error: unknown): SerializedError {
  const serialized = serializeError(error);
  return serialized.rank === undefined ? { ...serialized, rank } : serialized;
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined (the module has no default export)";
  if (value === null) return "null";
  if (typeof value === "function") return `the function ${value.name || "(anonymous)"}`;
  return typeof value;
}
