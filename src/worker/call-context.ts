/** What a rank's `call()` learns about the request it is running. */
export interface CallContext {
  /** The request's id: the one given to `invoke()`/`stream()`, or a generated UUID. */
  readonly requestId: string;
  /** Fires when the request is cancelled: the consumer left, aborted, or a timeout fired. */
  readonly signal: AbortSignal;
  /** `true` when a consumer streams this request; `false` for `invoke()`, whose results go nowhere. */
  readonly streaming: boolean;
}

/** Options of {@link DistributedWorker.addStreamingResult}. */
export interface StreamingResultOptions {
  /**
   * Accepted for fal compatibility. In troupe the consumer picks the format: `stream(..., {
   * asTextEvents: true })` sends every result as `data: <json>\n\n`.
   * @default false
   */
  readonly asTextEvent?: boolean;
  /**
   * Encoding of this result's raw images (`Image.fromPixels`, sharp instances) when they leave
   * the rank. Already-encoded images are sent as they are.
   * @default "jpeg" at quality 60
   */
  readonly imageFormat?: "jpeg" | "png" | "webp";
  /**
   * Latest-wins key: while a result with this key is still waiting for a slow consumer, a newer
   * result with the same key replaces it. Use it for previews, so a slow client sees the newest
   * one instead of a backlog. Results without a key are never dropped.
   */
  readonly latestWins?: string;
  /**
   * Send results of this kind (their `latestWins` key, or all throttled results without one) at
   * most once per `throttle` ms: the first at once, then the newest of each interval, and the
   * newest when the call ends, so the consumer always sees the last one. The seed's best
   * practice 2 (stream every N steps) is `if (step % n === 0)`; this is its time-based form.
   */
  readonly throttle?: number;
  /**
   * Send only every `every`-th result of this kind (the 1st, the (n+1)th, …), and the newest one
   * when the call ends: best practice 2's "every N steps", with the last step never lost.
   */
  readonly every?: number;
}
