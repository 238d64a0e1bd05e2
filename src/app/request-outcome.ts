import type { FastifyBaseLogger } from "fastify";
import { isAbortError } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import type { ServerMetrics } from "./metrics.ts";

/**
 * How a request ended: `ok`; `rejected` (the client's mistake, a 4xx); `failed` (the server's,
 * a 5xx or a stream that ended with a fatal error); `cancelled` (an abort: the client went away
 * or cancelled, never logged as a failure).
 */
export type Outcome = "ok" | "rejected" | "failed" | "cancelled";

/** One finished request, JSON or stream. */
export interface FinishedRequest {
  readonly method: string;
  readonly url: string;
  readonly route: string;
  readonly status: number;
  readonly ms: number;
  /** What failed it, if anything did. */
  readonly failure?: unknown;
}

/**
 * Counts `request` in `/metrics` by outcome and error code, and logs it once: at info when it
 * succeeded, was rejected or cancelled, at error with its code (and the origin's stack) when it
 * failed. `log` already carries the request id (fastify's `reqId` binding), so no line repeats it.
 */
export function recordRequest(
  metrics: ServerMetrics,
  log: FastifyBaseLogger,
  request: FinishedRequest,
): void {
  const { method, url, route, status, ms, failure } = request;
  const outcome = outcomeOf(status, failure);
  const code = failure === undefined ? "" : publicError(failure).code;
  metrics.requests.inc({ method, route, status: String(status), outcome, code });
  metrics.duration.observe({ method, route }, ms / 1000);
  const fields = { method, url, status, ms, outcome, ...(code === "" ? {} : { code }) };
  if (outcome !== "failed") {
    log.info(fields, "request completed");
    return;
  }
  const rank = (failure as { rank?: unknown } | null)?.rank;
  log.error(
    { ...fields, ...(typeof rank === "number" ? { rank } : {}), err: origin(failure) },
    "request failed",
  );
}

function outcomeOf(status: number, failure: unknown): Outcome {
  if (failure === undefined) return status >= 500 ? "failed" : status >= 400 ? "rejected" : "ok";
  if (isAbortError(failure)) return "cancelled";
  return status >= 400 && status < 500 ? "rejected" : "failed";
}

/**
 * The failure's name and message, with the stack of the error it came from (a rank's, say) and
 * not the text of every cause in between, which repeats the message.
 */
function origin(failure: unknown): { type: string; message: string; stack?: string } {
  if (!(failure instanceof Error)) return { type: "Error", message: String(failure) };
  let root: Error = failure;
  for (let depth = 0; root.cause instanceof Error && depth < 8; depth++) root = root.cause;
  return {
    type: failure.name,
    message: failure.message,
    ...(typeof root.stack === "string" ? { stack: root.stack } : {}),
  };
}
