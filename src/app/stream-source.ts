/**
 * Turns what an endpoint streams into the typed events of a request (src/events), which the
 * session writes with the encoder of the client's dialect. A `RunnerStream` (text or not) gives
 * its own events; any other iterable's values become `result` events, its end `done` (data
 * `null`; in fal's dialect just the end, its last item being the final result), its failure a
 * fatal `error`. SSE text such an iterable yields passes through untouched
 * in fal's dialect (read only for a fatal error event, which fails the response as the runner's
 * would) and is re-framed event by event in troupe's.
 */
import { createParser } from "eventsource-parser";
import { TroupeError } from "../errors.ts";
import { readPublicError } from "../events/public-error.ts";
import type { RequestEvent } from "../events/request-event.ts";
import { type Dialect, SseEvent } from "../events/sse-names.ts";
import { RunnerStream } from "../runner/runner-stream.ts";

/** What a session writes: a request's event, or SSE bytes passed through (fal's dialect). */
export type SourceItem =
  | RequestEvent<unknown, unknown, unknown>
  | {
      readonly type: "raw";
      readonly chunk: Uint8Array | string;
      /** Set when the chunk holds a fatal error event: the response ends as a failure. */
      readonly failure?: unknown;
    };

/** A stream of items that can be cancelled while a `next()` is pending. */
export interface Source {
  next(): Promise<IteratorResult<SourceItem>>;
  /** Stops the work behind the stream; the stream then ends with a fatal error event. */
  cancel(reason: Error): void;
  /** Results are tagged with their rank (the runner forwards every rank's). */
  readonly forwardsAllRanks: boolean;
}

/** The source for a streamed body, read for `dialect`. */
export function streamSource(body: AsyncIterable<unknown>, dialect: Dialect): Source {
  if (RunnerStream.isInstance(body)) return runnerEvents(body);
  return iterableSource(body, dialect);
}

function runnerEvents(stream: RunnerStream): Source {
  const events = stream.events()[Symbol.asyncIterator]();
  return {
    next: () => events.next(),
    cancel(reason) {
      stream.cancel(reason);
    },
    forwardsAllRanks: stream.forwardsAllRanks,
  };
}

function iterableSource(body: AsyncIterable<unknown>, dialect: Dialect): Source {
  const iterator = body[Symbol.asyncIterator]();
  // A pending next() of an async generator is abandoned on cancel: its return() would run only
  // after it yields again.
  let cancelReason: Error | undefined;
  let rejectPending: ((reason: Error) => void) | undefined;
  const pull = (): Promise<IteratorResult<unknown>> => {
    if (cancelReason !== undefined) return Promise.reject(cancelReason);
    return new Promise((resolve, reject) => {
      rejectPending = reject;
      iterator.next().then(resolve, reject);
    });
  };
  const queue: SourceItem[] = [];
  let finished = false;
  const decoder = new TextDecoder();
  // SSE text an iterable yields is parsed (the parser copes with events split across chunks):
  // troupe's dialect re-frames it event by event; fal's passes it on as it is, but still reads it
  // for a fatal error event, so that a failure an iterable wrote itself ends the response as one
  // (see fal-dialect.ts).
  let passedFailure: { readonly error: unknown } | undefined;
  const parser = createParser({
    onEvent: (message) => {
      if (dialect === "troupe") {
        queue.push(reframe(message));
        return;
      }
      if (message.event !== SseEvent.error || passedFailure !== undefined) return;
      const event = reframe(message);
      if (event.type === "error" && event.fatal) passedFailure = { error: event.error };
    },
  });
  const fatal = (error: unknown): IteratorResult<SourceItem> => {
    finished = true;
    return { done: false, value: { type: "error", error, fatal: true } };
  };
  return {
    async next() {
      for (;;) {
        const queued = queue.shift();
        if (queued !== undefined) {
          if (queued.type === "error" && queued.fatal) finished = true;
          return { done: false, value: queued };
        }
        if (finished) return { done: true, value: undefined };
        let r: IteratorResult<unknown>;
        try {
          r = await pull();
        } catch (error) {
          return fatal(error);
        }
        if (r.done) {
          finished = true;
          // In fal's dialect the last item was the final result: the stream just ends.
          if (dialect === "fal") return { done: true, value: undefined };
          return { done: false, value: { type: "done", data: null } };
        }
        const value = r.value;
        if (typeof value === "string" || value instanceof Uint8Array) {
          const text = typeof value === "string" ? value : decoder.decode(value, { stream: true });
          parser.feed(text);
          if (dialect === "troupe") continue;
          if (passedFailure === undefined) {
            return { done: false, value: { type: "raw", chunk: value } };
          }
          finished = true;
          return {
            done: false,
            value: { type: "raw", chunk: value, failure: passedFailure.error },
          };
        }
        if (value instanceof Error) {
          return { done: false, value: { type: "error", error: value, fatal: false } };
        }
        return { done: false, value: { type: "result", rank: 0, data: value } };
      }
    },
    cancel(reason) {
      cancelReason ??= reason;
      rejectPending?.(reason);
      void Promise.resolve(iterator.return?.()).catch(() => {});
    },
    forwardsAllRanks: false,
  };
}

/** An SSE event an iterable wrote itself, as a request event: its data is JSON if it parses. */
function reframe(message: { readonly event?: string | undefined; readonly data: string }) {
  let data: unknown = message.data;
  try {
    data = JSON.parse(message.data);
  } catch {
    // Not JSON: sent on as a string.
  }
  if (message.event !== SseEvent.error) return { type: "result", rank: 0, data } as const;
  const body = (data ?? {}) as { error?: unknown; fatal?: unknown };
  const wire = readPublicError(body.error, "INTERNAL");
  const error = new TroupeError(wire.code, wire.message, {
    ...(wire.rank === undefined ? {} : { rank: wire.rank }),
  });
  return { type: "error", error, fatal: body.fatal === true } as const;
}
