/**
 * An id for a call that does not stream, sent as `x-request-id` before any answer, so that the
 * page can show which request it waits for (such a call answers only at the end).
 * `crypto.randomUUID` needs a secure context; `getRandomValues` does not.
 */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `playground-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
