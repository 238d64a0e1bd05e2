/**
 * Turns what an endpoint streams into the items a session writes, in the dialect the client
 * asked for. Dialect 1 passes SSE bytes through untouched (fal's format); dialect 2 reads a
 * `RunnerStream`'s typed events, or re-frames any other stream's items as `result` events.
 */
import { createParser } from "eventsource-parser";
import { toJson } from "../encoding/json.ts";
import { SseEvent } from "../encoding/sse.ts";
import { publicError, RunnerStream, type StreamEvent } from "../runner/runner-stream.ts";

export type SourceItem =
  /** Bytes written as they are (dialect 1). */
  | { readonly type: "raw"; readonly chunk: Uint8Array | string }
  /** A state event without an id (dialect 2: `queued`, `started`). */
  | { readonly type: "status"; readonly event: string; readonly data: string }
  /** An event with request data: `event` undefined is an unnamed `data:` event. */
  | {
      readonly type: "event";
      readonly event: string | undefined;
      readonly data: string;
      readonly final: boolean;
    };

/** A stream of items that can be cancelled while a `next()` is pending. */
export interface Source {
  next(): Promise<IteratorResult<SourceItem>>;
  /** Stops the work behind the stream; the stream then ends with a fatal error item. */
  cancel(reason: Error): void;
}

/** The error object both dialects put in an `error` event. */
export function wireError(error: Error, requestId: string): Record<string, unknown> {
  const s = publicError(error);
  return {
    name: s.name,
    code: s.code,
    message: s.message,
    ...(s.rank === undefined ? {} : { rank: s.rank }),
    requestId,
  };
}

function errorItem(error: unknown, requestId: string, fatal: boolean): SourceItem {
  const e = error instanceof Error ? error : new Error(String(error));
  return {
    type: "event",
    event: SseEvent.error,
    data: toJson({ error: wireError(e, requestId), fatal }),
    final: fatal,
  };
}

/** The source for a streamed body in `dialect` (1: fal's, 2: troupe's). */
export function streamSource(
  body: AsyncIterable<unknown>,
  dialect: 1 | 2,
  requestId: string,
): Source {
  if (dialect === 2 && body instanceof RunnerStream) return runnerEvents(body, requestId);
  return iterableSource(body, dialect, requestId);
}

function runnerEvents(stream: RunnerStream, requestId: string): Source {
  const events = stream.events()[Symbol.asyncIterator]();
  // Whether results arrive tagged with their rank is the runner's option; RunnerStream keeps it.
  const allRanks = stream.forwardsAllRanks;
  let finished = false;
  const map = (event: StreamEvent): SourceItem => {
    switch (event.type) {
      case "queued":
        return { type: "status", event: SseEvent.queued, data: `{"position":${event.position}}` };
      case "started":
        return { type: "status", event: SseEvent.started, data: "{}" };
      case "result":
        return {
          type: "event",
          event: SseEvent.result,
          data: toJson(allRanks ? { rank: event.rank, result: event.data } : event.data),
          final: false,
        };
      case "final":
        return { type: "event", event: SseEvent.done, data: toJson(event.data), final: true };
      case "error":
        return errorItem(event.error, requestId, event.fatal);
    }
  };
  return {
    async next() {
      if (finished) return { done: true, value: undefined };
      const r = await events.next();
      if (r.done) {
        finished = true;
        return r;
      }
      return { done: false, value: map(r.value) };
    },
    cancel(reason) {
      stream.cancel(reason);
    },
  };
}

function iterableSource(body: AsyncIterable<unknown>, dialect: 1 | 2, requestId: string): Source {
  const iterator = body[Symbol.asyncIterator]();
  // A RunnerStream's return() settles a pending next() itself; any other iterable's pending next()
  // is abandoned on cancel (an async generator would run its return() only after it yields).
  const settlesOnReturn = body instanceof RunnerStream;
  let cancelReason: Error | undefined;
  let rejectPending: ((reason: Error) => void) | undefined;
  const pull = (): Promise<IteratorResult<unknown>> => {
    if (cancelReason !== undefined) return Promise.reject(cancelReason);
    if (settlesOnReturn) return iterator.next();
    return new Promise((resolve, reject) => {
      rejectPending = reject;
      iterator.next().then(resolve, reject);
    });
  };
  const queue: SourceItem[] = [];
  let finished = false;
  const decoder = new TextDecoder();
  // Dialect 2 re-frames SSE text as `result` events; the parser copes with events split across chunks.
  const parser = createParser({
    onEvent: (message) => {
      const isError = message.event === SseEvent.error;
      queue.push({
        type: "event",
        event: isError ? SseEvent.error : SseEvent.result,
        data: message.data,
        final: false,
      });
    },
  });
  const fatal = (error: unknown): IteratorResult<SourceItem> => {
    finished = true;
    return { done: false, value: errorItem(error, requestId, true) };
  };
  return {
    async next() {
      for (;;) {
        const queued = queue.shift();
        if (queued !== undefined) return { done: false, value: queued };
        if (finished) return { done: true, value: undefined };
        let r: IteratorResult<unknown>;
        try {
          r = await pull();
        } catch (error) {
          return fatal(error);
        }
        if (r.done) {
          finished = true;
          if (dialect === 2) {
            return {
              done: false,
              value: { type: "event", event: SseEvent.done, data: "null", final: true },
            };
          }
          return { done: true, value: undefined };
        }
        const value = r.value;
        if (typeof value === "string" || value instanceof Uint8Array) {
          if (dialect === 1) return { done: false, value: { type: "raw", chunk: value } };
          parser.feed(typeof value === "string" ? value : decoder.decode(value, { stream: true }));
          continue;
        }
        if (value instanceof Error)
          return { done: false, value: errorItem(value, requestId, false) };
        return {
          done: false,
          value: {
            type: "event",
            event: dialect === 1 ? undefined : SseEvent.result,
            data: toJson(value),
            final: false,
          },
        };
      }
    },
    cancel(reason) {
      cancelReason ??= reason;
      rejectPending?.(reason);
      void Promise.resolve(iterator.return?.()).catch(() => {});
    },
  };
}
