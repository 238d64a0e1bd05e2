import { randomUUID } from "node:crypto";
import type { PublicError } from "../../../src/events/public-error.ts";
import type { Lease, Priority, QueueEntry } from "../../../src/queue/queue-store.ts";

/** A queue entry with a fresh id; `overrides` set anything else. */
export function queueEntry(
  overrides: Partial<QueueEntry> & { priority?: Priority } = {},
): QueueEntry {
  return {
    id: randomUUID(),
    appId: "local/test-app",
    endpoint: "/",
    input: { prompt: "A sunset" },
    priority: "normal",
    submittedAt: Date.now(),
    ...overrides,
  };
}

/** A clock that moves only when told. */
export function manualClock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** The reason `signal` aborts with, once it does. */
export function abortReason(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(signal.reason), { once: true }),
  );
}

/** Ends a cancelled request as its holder would: its fatal ABORTED error, then its outcome. */
export async function endCancelled(lease: Lease): Promise<PublicError> {
  const error = { name: "AbortError", code: "ABORTED", message: "cancelled" };
  await lease.append({ type: "error", data: JSON.stringify({ error, fatal: true }), fatal: true });
  await lease.complete({ ok: false, error });
  return error;
}
