import { randomUUID } from "node:crypto";
import type { Priority, QueueEntry } from "../../../src/queue/queue-store.ts";

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
