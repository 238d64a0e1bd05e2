/**
 * What the queue says about a request, as `troupe/client` hands it over: fal's status objects
 * (`{request_id, status, queue_position, …}`) in camelCase, with the object as the server sent it
 * in `raw`, under fal's own names, for code written against fal's client.
 */
import { UnexpectedResponseError } from "./errors.ts";

/** fal's three request states. A failed or cancelled request is `COMPLETED` with an `error`. */
export type QueueState = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED";

/** A line the request's ranks logged while it ran (`rankPrint`, their stdout and stderr). */
export interface QueueLog {
  readonly message: string;
  /** `INFO`, `WARN`, `ERROR`, `DEBUG`, `STDOUT` or `STDERR`. */
  readonly level: string;
  readonly source: string;
  /** ISO 8601. */
  readonly timestamp: string;
}

/** The URLs every status object carries: where to read it, its result and how to cancel it. */
export interface QueueUrls {
  /** `GET` answers the status (`status_url`). */
  readonly statusUrl: string;
  /** `GET` answers the result (`response_url`). */
  readonly responseUrl: string;
  /** `PUT` cancels (`cancel_url`). */
  readonly cancelUrl: string;
}

interface StatusCommon extends QueueUrls {
  readonly requestId: string;
  /** The request's logs when they were asked for (`logs: true`); `null` otherwise or while queued. */
  readonly logs: readonly QueueLog[] | null;
  /** The status object as the server sent it, with fal's names (`request_id`, `queue_position`, …). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** Waiting: `queuePosition` requests are ahead of it, across every replica (0: it runs next). */
export interface InQueueStatus extends StatusCommon {
  readonly status: "IN_QUEUE";
  readonly queuePosition: number;
}

/** A replica runs it. */
export interface InProgressStatus extends StatusCommon {
  readonly status: "IN_PROGRESS";
}

/** It ended: with its result, or with `error` and `errorType` (the error's code). */
export interface CompletedStatus extends StatusCommon {
  readonly status: "COMPLETED";
  /** How long it ran, in seconds (`metrics.inference_time`); `null` when it never started. */
  readonly metrics: { readonly inferenceTime: number | null };
  /** The failure's message (fal's `error`); `undefined` when it succeeded. */
  readonly error: string | undefined;
  /** The failure's code (fal's `error_type`: `ABORTED`, `CALL_FAILED`, …). */
  readonly errorType: string | undefined;
}

/** A queued request's status, as `status()`, `statusStream()` and `onQueueUpdate` give it. */
export type QueueStatus = InQueueStatus | InProgressStatus | CompletedStatus;

/** What `submit()` resolves with: the request's id, its place in the queue and its URLs. */
export interface QueueSubmission extends QueueUrls {
  readonly requestId: string;
  readonly status: "IN_QUEUE";
  readonly queuePosition: number;
  /** The answer as the server sent it, with fal's names. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A status object read from the wire; a body that is not one is a protocol error. */
export function readQueueStatus(value: unknown): QueueStatus {
  const raw = record(value, "a status object");
  const common: StatusCommon = {
    requestId: text(raw, "request_id"),
    ...urlsOf(raw),
    logs: logsOf(raw.logs),
    raw,
  };
  switch (raw.status) {
    case "IN_QUEUE":
      return { ...common, status: "IN_QUEUE", queuePosition: position(raw) };
    case "IN_PROGRESS":
      return { ...common, status: "IN_PROGRESS" };
    case "COMPLETED": {
      const metrics = raw.metrics as { inference_time?: unknown } | null | undefined;
      const seconds = metrics?.inference_time;
      return {
        ...common,
        status: "COMPLETED",
        metrics: { inferenceTime: typeof seconds === "number" ? seconds : null },
        error: typeof raw.error === "string" ? raw.error : undefined,
        errorType: typeof raw.error_type === "string" ? raw.error_type : undefined,
      };
    }
    default:
      throw unexpected(`Expected a queue status, got ${JSON.stringify(raw.status)}`);
  }
}

/** `submit()`'s answer read from the wire. */
export function readSubmission(value: unknown): QueueSubmission {
  const raw = record(value, "a submission's answer");
  if (raw.status !== "IN_QUEUE") {
    throw unexpected(`Expected a submission to be IN_QUEUE, got ${JSON.stringify(raw.status)}`);
  }
  return {
    requestId: text(raw, "request_id"),
    status: "IN_QUEUE",
    queuePosition: position(raw),
    ...urlsOf(raw),
    raw,
  };
}

function urlsOf(raw: Record<string, unknown>): QueueUrls {
  return {
    statusUrl: text(raw, "status_url"),
    responseUrl: text(raw, "response_url"),
    cancelUrl: text(raw, "cancel_url"),
  };
}

function logsOf(value: unknown): readonly QueueLog[] | null {
  if (!Array.isArray(value)) return null;
  return value.map((entry) => {
    const log = (entry ?? {}) as Record<string, unknown>;
    return {
      message: String(log.message ?? ""),
      level: String(log.level ?? "INFO"),
      source: String(log.source ?? "USER"),
      timestamp: String(log.timestamp ?? ""),
    };
  });
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw unexpected(`Expected ${what}, got ${JSON.stringify(value)?.slice(0, 100)}`);
  }
  return value as Record<string, unknown>;
}

function text(raw: Record<string, unknown>, name: string): string {
  const value = raw[name];
  if (typeof value !== "string" || value === "") {
    throw unexpected(`Expected the status object's ${name} to be a string, got ${String(value)}`);
  }
  return value;
}

function position(raw: Record<string, unknown>): number {
  const value = raw.queue_position;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw unexpected(`Expected queue_position to be a position, got ${String(value)}`);
  }
  return value;
}

function unexpected(message: string): UnexpectedResponseError {
  return new UnexpectedResponseError(message);
}
