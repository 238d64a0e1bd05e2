/**
 * How a replica runs a queued request, on the in-process store: the handler's events are
 * appended as it streams them, and the last one (`done` or the fatal error) is left to the
 * completion, so that it and the request's COMPLETED phase are recorded in one step.
 */
import { describe, expect, it } from "vitest";
import type { EndpointDefinition } from "../../src/app/endpoint.ts";
import { queueExecution } from "../../src/app/queue-execution.ts";
import type { ServerContext } from "../../src/app/server-context.ts";
import { StreamingResponse } from "../../src/app/streaming-response.ts";
import { MemoryStore } from "../../src/queue/memory-store.ts";
import type { Lease, StoredEventBody } from "../../src/queue/queue-store.ts";
import { collect } from "../helpers.ts";
import { queueEntry } from "../queue/support/queue-entries.ts";

/** Runs `handler` as endpoint `/` of a queued request: what it appended itself, and the stream. */
async function runQueued(handler: EndpointDefinition["handler"]) {
  const endpoint = { path: "/", handler } as EndpointDefinition;
  const execute = queueExecution({ endpoints: [endpoint] } as unknown as ServerContext);
  const store = new MemoryStore();
  const entry = queueEntry({ endpoint: "/" });
  await store.submit(entry);
  const held = (await store.take(new AbortController().signal)) as Lease;
  const appended: string[] = [];
  const lease: Lease = {
    ...held,
    entry: held.entry,
    signal: held.signal,
    append: (event: StoredEventBody) => {
      appended.push(event.type);
      return held.append(event);
    },
  };
  const outcome = await execute(lease, new AbortController().signal);
  await held.complete(outcome);
  const stored = await collect(store.events(entry.id, 0, new AbortController().signal));
  await store.close();
  return { outcome, appended, stored: stored.map(({ event }) => `${event.type} ${event.data}`) };
}

describe("queueExecution", () => {
  it("leaves a JSON endpoint's done to the completion", async () => {
    const run = await runQueued(async () => ({ answer: 42 }));
    expect(run.outcome).toEqual({ ok: true, output: '{"answer":42}' });
    expect(run.appended).toEqual(["started"]);
    expect(run.stored).toEqual(["started {}", 'done {"answer":42}']);
  });

  it("appends a stream's results as they come and leaves its done to the completion", async () => {
    const run = await runQueued(
      async () =>
        new StreamingResponse(
          (async function* () {
            yield { step: 1 };
            yield { step: 2 };
          })(),
        ),
    );
    expect(run.appended).toEqual(["started", "result", "result"]);
    expect(run.stored.at(-1)).toBe(`done ${(run.outcome as { output: string }).output}`);
    expect(run.stored).toHaveLength(4);
  });

  it("leaves a failure's fatal error to the completion", async () => {
    const run = await runQueued(async () => {
      throw new Error("no luck");
    });
    expect(run.outcome.ok).toBe(false);
    expect(run.appended).toEqual(["started"]);
    expect(run.stored).toHaveLength(2);
    expect(run.stored[1]).toMatch(/^error \{"error":\{.*"fatal":true\}$/);
  });
});
