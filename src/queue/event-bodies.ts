/**
 * The stored events a store writes itself (a cancelled request's error, the last event of an
 * outcome its holder did not end with, a takeover's `retry`), in the `data:` JSON both SSE
 * dialects send (src/events/event-data.ts).
 */
import type { PublicError } from "../events/public-error.ts";
import { publicError } from "../events/public-error.ts";
import type { Outcome, StoredEventBody } from "./queue-store.ts";

/** `true` for a request's last event: a `done` or a fatal `error`. */
export function isLastEvent(event: StoredEventBody): boolean {
  return event.type === "done" || (event.type === "error" && event.fatal !== false);
}

/** The fatal `error` event of `error`. */
export function fatalErrorEvent(error: PublicError): StoredEventBody {
  return { type: "error", data: JSON.stringify({ error, fatal: true }), fatal: true };
}

/** The last event that says how a request ended: its `done` with the output, or its fatal error. */
export function lastEventOf(outcome: Outcome): StoredEventBody {
  return outcome.ok ? { type: "done", data: outcome.output } : fatalErrorEvent(outcome.error);
}

/** The `retry` event of a request run again after its replica was lost. */
export function retryEvent(attempt: number, error: PublicError): StoredEventBody {
  return { type: "retry", data: JSON.stringify({ attempt, error }) };
}

/** The error a request cancelled by a client ends with (code ABORTED), and its lease's signal reason. */
export function cancelledError(id: string): DOMException {
  return new DOMException(`Request ${id} was cancelled`, "AbortError");
}

/** The public form of {@link cancelledError}. */
export function cancelledPublicError(id: string): PublicError {
  return publicError(cancelledError(id), id);
}
