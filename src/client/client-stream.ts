import { InvalidArgumentError } from "../errors.ts";
import { deferred, quiet } from "../internal/deferred.ts";
import type { ClientEvent, Dialect } from "./client-event.ts";
import type { NonFatalStreamError } from "./errors.ts";
import type { Session } from "./session.ts";

/**
 * A streamed request. Iterate it for the intermediate results, call `events()` for every typed
 * event, or `done()` for the final result. The request is sent on first use; leaving the
 * iteration early, `cancel()` or the `signal` cancel it on the server (`DELETE /requests/<id>`),
 * except for a queued request's stream (`streamQueued()`), where they only stop reading.
 * One consumer per stream: iteration or `events()` (with `done()` beside either).
 *
 * Non-fatal error events reach the plain iteration's `onError` option; `events()` yields them.
 * In the fal dialect the iteration yields every `data:` event, the final result too, since only
 * the end of the stream tells which was last; `done()` resolves with it.
 */
export class ClientStream<Result = unknown, Output = unknown> implements AsyncIterable<Result> {
  private consumer: string | undefined;
  private readonly final = deferred<Output>();

  /** @internal */
  constructor(
    private readonly session: Session<Result, Output>,
    private readonly onError: ((error: NonFatalStreamError) => void) | undefined,
  ) {
    quiet(this.final.promise);
    // done() settles at once on an abort or idle timeout, even while no one pulls events.
    session.onStop = (reason) => this.final.reject(reason);
  }

  /** The id the server gave the request (`x-request-id`); `undefined` until it has answered. */
  get requestId(): string | undefined {
    return this.session.requestId;
  }

  /** Which dialect the server answers in; `undefined` until its first event. */
  get dialect(): Dialect | undefined {
    return this.session.dialect;
  }

  /**
   * The final result; rejects with the error that failed the request, or an AbortError.
   * Called before any other use, it reads the stream itself, dropping the intermediate results.
   */
  done(): Promise<Output> {
    if (this.consumer === undefined) {
      this.claim("done()");
      void (async () => {
        for await (const _ of this.source()) {
          // Only the outcome matters here.
        }
      })().catch(() => {});
    }
    return this.final.promise;
  }

  /** Stops the request: the iteration and `done()` reject with `reason`, the server cancels. */
  cancel(reason: Error = new DOMException("The stream was cancelled", "AbortError")): void {
    this.final.reject(reason);
    this.session.stop(reason);
  }

  /** Every event of the request in order; a fatal error rejects the iteration. */
  events(): AsyncIterable<ClientEvent<Result, Output>> {
    this.claim("events()");
    const source = this.source();
    return { [Symbol.asyncIterator]: () => source };
  }

  [Symbol.asyncIterator](): AsyncIterator<Result> {
    this.claim("iteration");
    return this.results();
  }

  private async *results(): AsyncGenerator<Result, void> {
    for await (const event of this.source()) {
      if (event.type === "result") yield event.data;
      else if (event.type === "error") this.onError?.(event.error);
    }
  }

  private async *source(): AsyncGenerator<ClientEvent<Result, Output>, void> {
    try {
      for await (const event of this.session.events()) {
        if (event.type === "done") this.final.resolve(event.data);
        yield event;
      }
    } catch (error) {
      this.final.reject(error);
      throw error;
    } finally {
      this.final.reject(new DOMException("The consumer stopped reading the stream", "AbortError"));
    }
  }

  private claim(what: string): void {
    if (this.consumer !== undefined) {
      throw new InvalidArgumentError(
        `This stream is already read by ${this.consumer}; ${what} needs a stream of its own (call stream() again)`,
      );
    }
    this.consumer = what;
  }
}
