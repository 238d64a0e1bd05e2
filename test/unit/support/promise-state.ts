/**
 * Whether `promise` has settled once every microtask queued so far has run. `setImmediate` runs
 * after the microtask queue is empty, so this is deterministic for promises settled by
 * synchronous code or promise chains (no timers involved).
 */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

/** Lets queued microtasks (and `process.nextTick` callbacks) run. */
export function flushMicrotasks(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
