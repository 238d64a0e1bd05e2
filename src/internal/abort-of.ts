/**
 * Resolves once `signal` aborts, or at once if it already has (a listener added after the abort
 * never fires); never without a signal.
 */
export function abortOf(signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => onAbort(signal, () => resolve()));
}

/**
 * Calls `listener` once when `signal` aborts, or now if it already has; returns what takes the
 * listener off again (nothing to do without a signal, or once it was called).
 */
export function onAbort(signal: AbortSignal | undefined, listener: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    listener();
    return () => {};
  }
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}
