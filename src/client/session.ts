import type { EventSourceMessage } from "eventsource-parser";
import { abortReason, ErrorCode } from "../errors.ts";
import type { DecodeHelpers, WireEvent } from "../events/event-data.ts";
import { decodeFalMessage } from "../events/fal-dialect.ts";
import { type PublicError, readPublicError } from "../events/public-error.ts";
import { SseEvent } from "../events/sse-names.ts";
import { decodeTroupeMessage } from "../events/troupe-dialect.ts";
import type { ClientEvent, Dialect, RetryEvent } from "./client-event.ts";
import type { Clock } from "./clock.ts";
import {
  ConnectionError,
  HttpError,
  IdleTimeoutError,
  NonFatalStreamError,
  ReaderReplacedError,
  ReplayUnavailableError,
  RequestError,
  type RequestErrorOptions,
  RequestFailedError,
  UnexpectedResponseError,
} from "./errors.ts";
import {
  bodyText,
  describe,
  httpErrorOf,
  responseRequestId,
  responseResumeToken,
  send,
} from "./http.ts";
import type { ResolvedReconnect, ResolvedRequest } from "./options.ts";
import { readMessages } from "./read-messages.ts";
import { Dialect as Dialects, requestUrl, resumeUrl, SSE_CONTENT_TYPE, SseHeader } from "./wire.ts";

export interface SessionConfig {
  /** The streaming endpoint's full URL. */
  readonly endpoint: string;
  readonly request: ResolvedRequest;
  /** ms without a byte before STREAM_IDLE. */
  readonly timeout: number | undefined;
  readonly reconnect: ResolvedReconnect | false;
  readonly signal: AbortSignal | undefined;
  readonly clock: Clock;
  /** An answer to the POST that is already there (`run()` got an event stream): read it instead. */
  readonly response?: Response;
  /** Read a request that exists already (a queued one) instead of POSTing a new one. */
  readonly follow?: FollowRequest;
}

/**
 * A request the session follows rather than starts: it GETs `url` (with `Last-Event-ID` when
 * `afterId` is above 0), resumes at the same URL, and never cancels the request on the server,
 * since it did not start it: stopping only stops reading.
 */
export interface FollowRequest {
  readonly url: string;
  readonly requestId: string;
  /** The id of the last event already seen; the stream starts after it. */
  readonly afterId: number;
}

const ID = /^\d+$/;

/**
 * One streamed request across its connections: it POSTs, reads the events, resumes a dropped
 * dialect-2 connection from the last id it received, and tells the server to cancel when the
 * client gives up; both with the resume token the server answered the POST with, which proves
 * the request is this client's. `events()` is pulled by one consumer; nothing is read ahead of it.
 */
export class Session<Result = unknown, Output = unknown> {
  requestId: string | undefined;
  dialect: Dialect | undefined;
  /**
   * The secret of the request's owner, from the POST's answer; never logged or put in a URL.
   * Before that answer there is none, and nothing to send a DELETE for: giving up then aborts the
   * POST, and the server cancels a request whose connection closes before it streams.
   */
  private resumeToken: string | undefined;
  private lastId = 0;
  private retry: number | undefined;
  private startedSeen = false;
  private lastData: { readonly value: unknown } | undefined;
  private failures = 0;
  /** Nothing to cancel there: the server said how the request ended, or another reader has it. */
  private settled = false;
  private stopped: Error | undefined;
  private readonly controller = new AbortController();
  private idleTimer: unknown;
  /** Told when the session stops (abort, idle timeout), before any consumer pulls again. */
  onStop: ((reason: Error) => void) | undefined;

  constructor(private readonly config: SessionConfig) {
    if (config.follow !== undefined) {
      this.requestId = config.follow.requestId;
      this.lastId = config.follow.afterId;
    }
  }

  /** Stops for good: whatever waits rejects with `reason`, and the server is told to cancel. */
  stop(reason: Error): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    this.disarm();
    this.controller.abort(reason);
    if (!this.settled) this.cancelRemote();
    this.onStop?.(reason);
  }

  /** The request's events in order, each exactly once; ends after `done`, throws on failure. */
  async *events(): AsyncGenerator<ClientEvent<Result, Output>, void> {
    const { signal } = this.config;
    signal?.throwIfAborted();
    const onAbort = (): void => this.stop(abortReason(signal as AbortSignal));
    signal?.addEventListener("abort", onAbort, { once: true });
    let failure: unknown;
    try {
      yield* this.connectAndRead();
    } catch (error) {
      failure = this.stopped ?? error;
      throw failure;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.disarm();
      // Left early, or failed on the client's side: the server need not go on.
      if (!this.settled) {
        this.stop(
          failure instanceof Error
            ? failure
            : new DOMException("The consumer stopped reading the stream", "AbortError"),
        );
      }
    }
  }

  private async *connectAndRead(): AsyncGenerator<ClientEvent<Result, Output>, void> {
    const { follow } = this.config;
    let response =
      this.config.response ??
      (follow === undefined
        ? await this.open("POST", this.config.endpoint, {}, this.config.request.body)
        : await this.openFollowed(follow.url));
    this.requestId ??= responseRequestId(response);
    this.resumeToken ??= responseResumeToken(response);
    // A troupe server says which dialect it serves; another server's events tell.
    const echoed = response.headers.get(SseHeader.dialect);
    if (echoed === Dialects.troupe || echoed === Dialects.fal) this.dialect ??= echoed;
    if (!isEventStream(response)) {
      yield await this.jsonAnswer(response);
      return;
    }
    for (;;) {
      let drop: unknown;
      try {
        for await (const message of readMessages(response.body as ReadableStream<Uint8Array>, {
          onWait: () => this.arm(),
          onBytes: () => this.disarm(),
          onRetry: (ms) => {
            this.dialect = "troupe";
            this.retry = ms;
          },
        })) {
          // Events already read stay unread once the client has stopped.
          if (this.stopped !== undefined) throw this.stopped;
          const event = this.decode(message);
          if (event === undefined) continue;
          // A numbered event is progress; a status repeated by each resume is not.
          if ("id" in event && event.id !== undefined) this.failures = 0;
          yield event;
          if (event.type === "done") return;
        }
      } catch (error) {
        if (this.stopped !== undefined || error instanceof RequestError) throw error;
        drop = error;
      }
      if (this.dialect === "fal" || (this.dialect === undefined && this.requestId === undefined)) {
        yield this.falEnd(drop);
        return;
      }
      response = await this.resume(drop);
    }
  }

  /** Connects; a non-2xx answer or something other than an event stream or JSON is an error. */
  private async open(
    method: "POST" | "GET",
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<Response> {
    const { request } = this.config;
    this.arm();
    let response: Response;
    try {
      response = await send(
        request.fetch,
        url,
        {
          method,
          headers: {
            ...request.headers,
            accept: SSE_CONTENT_TYPE,
            [SseHeader.dialect]: Dialects.troupe,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
            ...headers,
          },
          ...(body === undefined ? {} : { body }),
          signal: this.controller.signal,
        },
        this.requestId,
      );
    } finally {
      this.disarm();
    }
    if (!response.ok) {
      if (method === "POST") this.settled = true;
      const { follow } = this.config;
      // A followed request is named by its own id, not by the id of the GET the server refused.
      throw httpErrorOf(
        response,
        await bodyText(response),
        follow === undefined
          ? { fallbackId: this.requestId ?? responseRequestId(response) }
          : { requestId: follow.requestId },
      );
    }
    if (response.body === null) {
      throw new UnexpectedResponseError(`${method} ${url} answered without a body`, this.facts());
    }
    return response;
  }

  /** A JSON answer to the POST (a non-streaming endpoint) is the final result of no events. */
  private async jsonAnswer(response: Response): Promise<ClientEvent<Result, Output>> {
    const type = response.headers.get("content-type") ?? "none";
    if (!/^application\/([\w.+-]+\+)?json\b/.test(type)) {
      throw new UnexpectedResponseError(
        `Expected an event stream (${SSE_CONTENT_TYPE}), got content type ${type}`,
        this.facts({ status: response.status }),
      );
    }
    const text = await response.text();
    const data = this.parse(text);
    this.settled = true;
    return { type: "done", data: data as Output, id: undefined };
  }

  /** The end of a fal-dialect stream: its last `data:` event was the final result. */
  private falEnd(drop: unknown): ClientEvent<Result, Output> {
    if (drop !== undefined) {
      throw new ConnectionError(
        `The connection dropped before the stream ended: ${describe(drop)}`,
        this.facts({ cause: drop }),
      );
    }
    if (this.lastData === undefined) {
      throw new UnexpectedResponseError("The stream ended without a result", this.facts());
    }
    this.settled = true;
    return { type: "done", data: this.lastData.value as Output, id: undefined };
  }

  /** Reconnects after a drop, waiting `retry` ms before each attempt, up to `attempts` in a row. */
  private async resume(drop: unknown): Promise<Response> {
    const { reconnect } = this.config;
    const requestId = this.requestId;
    if (reconnect === false || requestId === undefined) {
      const why = reconnect === false ? "reconnect is off" : "the server sent no request id";
      throw new ConnectionError(
        `The connection dropped before the request ended (${why})${drop === undefined ? "" : `: ${describe(drop)}`}`,
        this.facts({ cause: drop }),
      );
    }
    const { follow } = this.config;
    let cause = drop;
    for (;;) {
      if (this.failures >= reconnect.attempts) {
        throw new ConnectionError(
          `The connection dropped and ${reconnect.attempts} attempts to resume it failed${cause === undefined ? "" : `: ${describe(cause)}`}`,
          this.facts({ cause }),
        );
      }
      this.failures += 1;
      await this.wait(this.retry ?? reconnect.delay);
      try {
        if (follow !== undefined) return await this.openFollowed(follow.url);
        const response = await this.open("GET", resumeUrl(this.config.endpoint, requestId), {
          ...this.ownerHeaders(),
          [SseHeader.lastEventId]: String(this.lastId),
        });
        return this.eventStreamOnly(response, "resumed stream");
      } catch (error) {
        if (this.stopped !== undefined) throw this.stopped;
        const retryable =
          error instanceof ConnectionError ||
          (error instanceof HttpError && (error.status ?? 0) >= 500);
        if (!retryable) throw error;
        cause = error;
      }
    }
  }

  /** GETs a followed request's events after the last one seen. */
  private async openFollowed(url: string): Promise<Response> {
    const after: Record<string, string> =
      this.lastId > 0 ? { [SseHeader.lastEventId]: String(this.lastId) } : {};
    return this.eventStreamOnly(await this.open("GET", url, after), "request's event stream");
  }

  private eventStreamOnly(response: Response, what: string): Response {
    if (isEventStream(response)) return response;
    throw new UnexpectedResponseError(
      `Expected the ${what} to be an event stream, got content type ${response.headers.get("content-type")}`,
      this.facts({ status: response.status }),
    );
  }

  /** One SSE message as a client event; `undefined` for one to skip (a replayed duplicate). */
  private decode(message: EventSourceMessage): ClientEvent<Result, Output> | undefined {
    const name = message.event === "message" ? undefined : message.event;
    // troupe's dialect names its events and numbers them; fal's are unnamed, bar its error.
    if ((name !== undefined && name !== SseEvent.error) || message.id !== undefined) {
      if (this.dialect === "fal") {
        throw new UnexpectedResponseError(
          `A fal-dialect stream went on with a ${name ?? "data"} event with id ${message.id}`,
          this.facts(),
        );
      }
      this.dialect = "troupe";
    } else if (name === undefined) {
      this.dialect ??= "fal";
    }
    let id: number | undefined;
    if (message.id !== undefined) {
      if (!ID.test(message.id)) {
        throw new UnexpectedResponseError(
          `Expected an event id to be a decimal sequence number, got ${JSON.stringify(message.id)}`,
          this.facts(),
        );
      }
      id = Number(message.id);
      if (id <= this.lastId) return undefined;
      if (id !== this.lastId + 1) {
        throw new UnexpectedResponseError(
          `Event ${id} arrived after event ${this.lastId}: events in between were lost`,
          this.facts(),
        );
      }
      this.lastId = id;
    }
    if (this.dialect === "troupe" && name === SseEvent.retry) return this.retryEvent(message, id);
    const event: WireEvent | undefined =
      this.dialect === "troupe"
        ? decodeTroupeMessage(message, this.helpers)
        : decodeFalMessage(message, this.helpers);
    switch (event?.type) {
      case undefined:
        return undefined;
      case "result":
        // In fal's dialect the last result is the final one, once the stream ends cleanly.
        if (this.dialect !== "troupe") this.lastData = { value: event.data };
        return { type: "result", data: event.data as Result, id };
      case "queued":
        return event;
      case "started":
        if (this.startedSeen) return undefined;
        this.startedSeen = true;
        return event;
      case "done":
        this.settled = true;
        return { type: "done", data: event.data as Output, id };
      case "error":
        return this.errorEvent(event.error, event.fatal, id);
    }
  }

  /** A queued request's `retry`: it runs again from the start, so its `started` comes again. */
  private retryEvent(message: EventSourceMessage, id: number | undefined): RetryEvent {
    const body = this.parse(message.data) as { attempt?: unknown; error?: unknown } | null;
    const attempt = body?.attempt;
    if (typeof attempt !== "number") {
      throw new UnexpectedResponseError(
        `Expected a retry event to carry a numeric attempt, got ${message.data}`,
        this.facts(),
      );
    }
    const error = readPublicError(body?.error, ErrorCode.REQUEST_FAILED);
    this.startedSeen = false;
    return {
      type: "retry",
      attempt,
      error: new RequestError(error.code, error.message, {
        ...this.facts(),
        ...(error.rank === undefined ? {} : { rank: error.rank }),
        remoteName: error.name,
      }),
      id,
    };
  }

  private readonly helpers: DecodeHelpers = {
    parse: (text) => this.parse(text),
    fail: (message) => {
      throw new UnexpectedResponseError(message, this.facts());
    },
  };

  private errorEvent(
    error: PublicError,
    fatal: boolean,
    id: number | undefined,
  ): ClientEvent<Result, Output> {
    const options: RequestErrorOptions = {
      status: 200,
      ...this.facts(),
      ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      ...(error.rank === undefined ? {} : { rank: error.rank }),
      ...(error.issues === undefined ? {} : { issues: error.issues }),
      remoteName: error.name,
    };
    if (!fatal && error.code === ErrorCode.READER_REPLACED) {
      // The request is someone else's to read now (its owner's other connection): stop, without
      // resuming (that would take it back) or cancelling it.
      this.settled = true;
      throw new ReaderReplacedError(error.message, options);
    }
    if (!fatal) {
      return {
        type: "error",
        error: new NonFatalStreamError(error.code, error.message, options),
        fatal: false,
        id,
      };
    }
    if (error.code === ErrorCode.REPLAY_UNAVAILABLE) {
      // The request may still run on the server; it is cancelled since no one can follow it.
      throw new ReplayUnavailableError(error.code, error.message, options);
    }
    this.settled = true;
    throw new RequestFailedError(error.code, error.message, options);
  }

  private parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UnexpectedResponseError(
        `Expected JSON, got ${JSON.stringify(text.slice(0, 100))}`,
        this.facts({ cause: error }),
      );
    }
  }

  private facts(extra: RequestErrorOptions = {}): RequestErrorOptions {
    return { ...(this.requestId === undefined ? {} : { requestId: this.requestId }), ...extra };
  }

  /** Best effort: the request ends on the server at once instead of after its resume window. */
  private cancelRemote(): void {
    const requestId = this.requestId;
    if (requestId === undefined || this.config.follow !== undefined) return;
    const { request } = this.config;
    const url = requestUrl(request.base, requestId);
    Promise.resolve()
      .then(() =>
        request.fetch(url, {
          method: "DELETE",
          headers: {
            ...request.headers,
            [SseHeader.dialect]: Dialects.troupe,
            ...this.ownerHeaders(),
          },
        }),
      )
      .then((response) => response.body?.cancel())
      .catch(() => {});
  }

  /** The header that proves the request is this client's (resume, cancel). */
  private ownerHeaders(): Record<string, string> {
    const token = this.resumeToken;
    return token === undefined ? {} : { [SseHeader.resumeToken]: token };
  }

  private arm(): void {
    const { timeout, clock } = this.config;
    if (timeout === undefined || this.stopped !== undefined) return;
    this.disarm();
    this.idleTimer = clock.setTimeout(() => {
      this.idleTimer = undefined;
      this.stop(new IdleTimeoutError(`No data arrived for ${timeout} ms`, this.facts()));
    }, timeout);
  }

  private disarm(): void {
    if (this.idleTimer === undefined) return;
    this.config.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Resolves after `ms`; rejects with the stop reason if the session stops first. */
  private wait(ms: number): Promise<void> {
    const { signal } = this.controller;
    const { clock } = this.config;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clock.clearTimeout(handle);
        reject(signal.reason);
      };
      const handle = clock.setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function isEventStream(response: Response): boolean {
  return (response.headers.get("content-type") ?? "").startsWith(SSE_CONTENT_TYPE);
}
