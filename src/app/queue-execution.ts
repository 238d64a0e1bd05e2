import { eventData } from "../events/event-data.ts";
import { publicError } from "../events/public-error.ts";
import { toJson } from "../events/to-json.ts";
import { onAbort } from "../internal/abort-of.ts";
import type { LogEntry, Outcome } from "../queue/queue-store.ts";
import type { Execute } from "../queue/queue-worker.ts";
import { type RankLogLine, withRequestScope } from "../runner/request-scope.ts";
import { RunnerStream } from "../runner/runner-stream.ts";
import { AppendWindow } from "./append-window.ts";
import { NotFoundError } from "./errors.ts";
import type { ServerContext } from "./server-context.ts";
import { streamSource } from "./stream-source.ts";
import { StreamingResponse } from "./streaming-response.ts";

/**
 * How a replica runs a queued request: its endpoint's handler with the stored input, as `POST
 * <path>` would, each event the handler streams appended to the store as troupe's dialect writes
 * it (so any replica replays it), the endpoint's return value (or, for a stream, the runner's
 * final result, or the last item of any other iterable) as the request's output. The request's
 * `signal` (cancel from any replica, its timeout, a lost lease) reaches the handler as
 * `ctx.signal` and cancels its stream, so every rank stops.
 */
export function queueExecution(context: ServerContext): Execute {
  return async (lease, signal) => {
    const { entry } = lease;
    const appends = new AppendWindow(lease);
    // The last event (`done` or the fatal error) is the outcome's own, which the store records
    // with the outcome itself (lease.complete): a reader that sees it finds the request completed.
    const fail = async (error: unknown): Promise<Outcome> => {
      await appends.drained().catch(() => {});
      return { ok: false, error: publicError(error, entry.id) };
    };
    const e = context.endpoints.find((candidate) => candidate.path === entry.endpoint);
    if (e === undefined) {
      return fail(new NotFoundError(`The app has no endpoint ${entry.endpoint} any more`));
    }
    // What the ranks log while the handler's runner calls run becomes the request's logs.
    const log = (line: RankLogLine): void => {
      void lease.log(logEntry(line)).catch(() => {});
    };
    let result: unknown;
    // It runs from here, whatever the endpoint answers: a stream's own `started` is not repeated.
    appends.push({ type: "started", data: "{}" });
    try {
      signal.throwIfAborted();
      result = await withRequestScope({ requestId: entry.id, log }, () =>
        e.handler(entry.input, { requestId: entry.id, signal }),
      );
    } catch (error) {
      return fail(signal.aborted ? signal.reason : error);
    }
    if (!StreamingResponse.isInstance(result)) {
      if (signal.aborted) return fail(signal.reason);
      const output = toJson(result);
      await appends.drained();
      return { ok: true, output };
    }
    const finalIsDone = RunnerStream.isInstance(result.body);
    const source = streamSource(result.body, "troupe");
    const offAbort = onAbort(signal, () => source.cancel(signal.reason as Error));
    const encode = { requestId: entry.id, forwardsAllRanks: source.forwardsAllRanks };
    let last = "null";
    try {
      for (;;) {
        const r = await source.next();
        if (r.done) break;
        const event = r.value;
        switch (event.type) {
          case "result":
            last = eventData(event, encode);
            // A preview superseded by a newer one of its key is not kept.
            appends.push({ type: "result", data: last, key: event.key });
            break;
          case "error":
            if (event.fatal) return await fail(event.error);
            appends.push({ type: "error", fatal: false, data: eventData(event, encode) });
            break;
          case "done": {
            const output = finalIsDone ? eventData(event, encode) : last;
            await appends.drained();
            return { ok: true, output };
          }
          // The runner's own queue positions (the store's position is the request's), and its
          // start (the request's was appended when its handler began).
          case "started":
          case "queued":
          case "heartbeat":
          case "raw":
            break;
        }
        const room = appends.room();
        if (room !== undefined) await room;
      }
      // troupe's dialect always ends a stream with `done` or a fatal error.
      return await fail(new Error("The stream ended without a final event"));
    } catch (error) {
      return await fail(error);
    } finally {
      offAbort();
    }
  };
}

/** A rank's line as fal's log entry: its level in capitals (`INFO`, `STDOUT`, …), from the user's code. */
function logEntry(line: RankLogLine): LogEntry {
  return {
    message: line.message,
    level: line.level.toUpperCase(),
    source: "USER",
    timestamp: new Date().toISOString(),
  };
}
