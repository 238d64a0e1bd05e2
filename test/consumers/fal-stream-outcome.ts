import type { FalStream } from "@fal-ai/client";

/** How a promise settled: its value, or what it rejected with. */
export interface Outcome<T> {
  readonly value?: T;
  readonly error?: unknown;
}

/** Settles `promise` into an outcome at once, so a rejection is never briefly unhandled. */
export function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** What `for await` over one of fal's streams gives, and what its `done()` settles with. */
export async function readStream(
  stream: FalStream<unknown, unknown>,
): Promise<{ items: unknown[]; done: Outcome<unknown> }> {
  const done = settle(stream.done());
  const items: unknown[] = [];
  for await (const item of stream) items.push(item);
  return { items, done: await done };
}
