import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { QueuedDeadlines, requestTimeoutError } from "../../src/queue/queued-deadlines.ts";
import { queueEntry } from "../queue/support/queue-entries.ts";

describe("QueuedDeadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("calls expire when a request's time runs out, counted from its submission, once", () => {
    const expired: string[] = [];
    const deadlines = new QueuedDeadlines(Date.now, (entry) => expired.push(entry.id));
    const entry = queueEntry({ timeout: 5000, submittedAt: Date.now() - 1000 });
    deadlines.add(entry);
    deadlines.add(queueEntry());
    vi.advanceTimersByTime(3999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([entry.id]);
    vi.advanceTimersByTime(60_000);
    expect(expired).toEqual([entry.id]);
  });

  it("waits longer than setTimeout's 2^31 - 1 ms in several steps, never early", () => {
    const expired: string[] = [];
    const deadlines = new QueuedDeadlines(Date.now, (entry) => expired.push(entry.id));
    const days30 = 30 * 86_400_000;
    const entry = queueEntry({ timeout: days30, submittedAt: Date.now() });
    deadlines.add(entry);
    vi.advanceTimersByTime(days30 - 1);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([entry.id]);
  });

  it("forgets a request that started, and every request once cleared", () => {
    const expired: string[] = [];
    const deadlines = new QueuedDeadlines(Date.now, (entry) => expired.push(entry.id));
    const started = queueEntry({ timeout: 1000, submittedAt: Date.now() });
    const other = queueEntry({ timeout: 2000, submittedAt: Date.now() });
    deadlines.add(started);
    deadlines.add(other);
    deadlines.delete(started.id);
    deadlines.clear();
    vi.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
  });

  it("names the request and its timeout in the error", () => {
    const error = requestTimeoutError(queueEntry({ id: "r1", timeout: 1500 }));
    expect(error).toMatchObject({ code: "REQUEST_TIMEOUT", details: { timeout: 1500 } });
    expect(error.message).toBe("Request r1 timed out after 1.5 s (x-fal-request-timeout)");
  });
});
