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
   * Format for images in this result once image encoding lands; recorded, not yet applied.
   * @default "jpeg"
   */
  readonly imageFormat?: "jpeg" | "png" | "webp";
  /**
   * Latest-wins key: while a result with this key is still waiting for a slow consumer, a newer
   * result with the same key replaces it. Use it for previews, so a slow client sees the newest
   * one instead of a backlog. Results without a key are never dropped.
   */
  readonly latestWins?: string;
}
