/**
 * Resolves once `signal` aborts, or at once if it already has (a listener added after the abort
 * never fires); never without a signal.
 */
export function abortOf(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
