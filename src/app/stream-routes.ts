import { performance } from "node:perf_hooks";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type Dialect, REQUESTS_PATH, SseHeader } from "../events/sse-names.ts";
import { encodeRetry, encodeTroupeEvent } from "../events/troupe-dialect.ts";
import { onAbort } from "../internal/abort-of.ts";
import { ForbiddenError, ReplayUnavailableError, RequestNotFoundError } from "./errors.ts";
import type { HttpServer } from "./http-server.ts";
import { recordRequest } from "./request-outcome.ts";
import { RequestOwner } from "./request-owner.ts";
import { assertOpen, type ServerContext } from "./server-context.ts";
import { SseConnection } from "./sse-connection.ts";
import { StreamSession } from "./stream-session.ts";
import { streamSource } from "./stream-source.ts";
import type { StreamingResponse } from "./streaming-response.ts";

/**
 * Opens an SSE response on the reply's own Node response, with the headers fastify's hooks set
 * (request ids, CORS) and the dialect served. fastify is told not to send anything itself.
 */
function openConnection(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  dialect: Dialect,
): SseConnection {
  const { options, metrics } = context;
  context.streams.add(request.raw);
  reply.header(SseHeader.dialect, dialect);
  reply.hijack();
  const connection = new SseConnection(
    reply.raw,
    reply.getHeaders(),
    options.heartbeatInterval,
    options.timers,
  );
  metrics.openStreams.inc();
  // A client gone before the head went out leaves the connection closed from the start.
  onAbort(connection.closed, () => metrics.openStreams.dec());
  return connection;
}

/** What {@link startStream} needs to know about the request it answers. */
export interface StreamStart {
  readonly requestId: string;
  readonly route: string;
  readonly dialect: Dialect;
  /** The endpoint's `ctx.signal`: it fires when the stream is cancelled. */
  readonly endpointController: AbortController;
}

/**
 * Answers `request` with `response` streamed in the dialect the client asked for. The response
 * carries the resume token that resuming and cancelling the request will need.
 */
export function startStream(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  response: StreamingResponse,
  start: StreamStart,
): void {
  const { options, metrics, sessions } = context;
  const { requestId, route, dialect, endpointController } = start;
  const { owner, token } = RequestOwner.issue(context.principals.get(request.raw));
  reply.header(SseHeader.resumeToken, token);
  const connection = openConnection(context, request, reply, dialect);
  if (dialect === "troupe") connection.write(encodeRetry(options.retry));
  const started = performance.now();
  const source = streamSource(response.body, dialect);
  const log = request.log;
  const session = new StreamSession(
    {
      next: () => source.next(),
      cancel(reason) {
        // The endpoint's `ctx.signal` fires too, whatever its stream is made of.
        endpointController.abort(reason);
        source.cancel(reason);
      },
      forwardsAllRanks: source.forwardsAllRanks,
    },
    {
      requestId,
      dialect,
      replayLimit: options.replayLimit,
      resumeWindow: options.resumeWindow,
      slowReaderTimeout: options.slowReaderTimeout,
      timers: options.timers,
      owner,
      hooks: {
        onEvent(first) {
          metrics.eventsSent.inc({ route });
          if (first) {
            metrics.timeToFirstEvent.observe({ route }, (performance.now() - started) / 1000);
          }
        },
        onEnd(ended) {
          sessions.retire(ended, dialect === "troupe" ? options.resumeWindow : 0);
          recordRequest(metrics, log, {
            method: request.method,
            url: request.url,
            route,
            status: 200,
            ms: performance.now() - started,
            failure: ended.failure,
          });
        },
      },
    },
  );
  sessions.add(session);
  session.attach(connection);
  void session.run();
}

/**
 * A troupe-dialect client coming back (`GET <path>?requestId=`, `Last-Event-ID`, the resume
 * token): the events it missed, then the live stream; 403 when it is not the request's owner,
 * REPLAY_UNAVAILABLE when the events are gone, 404 for an id this server never had.
 */
export function resumeStream(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  requestId: string,
): void {
  assertOpen(context);
  const session = context.sessions.get(requestId);
  if (session === undefined && !context.sessions.wasExpired(requestId)) {
    throw new RequestNotFoundError(`This server has no request ${requestId}`);
  }
  if (session !== undefined) assertOwner(context, request, session);
  // The answer is the resumed request's: it carries that request's id.
  reply.header(SseHeader.requestId, requestId);
  reply.header(SseHeader.falRequestId, requestId);
  const connection = openConnection(context, request, reply, "troupe");
  connection.write(encodeRetry(context.options.retry));
  const lastId = parseLastEventId(request.headers[SseHeader.lastEventId]);
  if (
    session === undefined ||
    session.dialect !== "troupe" ||
    !session.attach(connection, lastId)
  ) {
    const error = new ReplayUnavailableError(
      `The events of request ${requestId} after ${lastId} are no longer kept`,
    );
    connection.write(
      encodeTroupeEvent({ type: "error", error, fatal: true }, undefined, {
        requestId,
        forwardsAllRanks: false,
      }),
    );
    connection.end();
  }
}

/**
 * `DELETE /requests/:id`: its owner cancels a stream on every rank. A request that has not begun
 * to stream (a JSON call, or a stream whose endpoint has not returned) has handed out no token,
 * so no DELETE can prove it is its owner's: 403; its owner cancels it by closing its connection.
 */
export function registerRequestRoutes(server: HttpServer, context: ServerContext): void {
  server.delete(`${REQUESTS_PATH}/:id`, async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const session = context.sessions.get(id);
    if (session !== undefined) {
      assertOwner(context, request, session);
      session.cancel(new DOMException("The client cancelled the request", "AbortError"));
      return reply.code(204).send();
    }
    if (context.inflight.has(id)) {
      throw new ForbiddenError(
        `Request ${id} has no ${SseHeader.resumeToken} yet: only its own connection can cancel it, by closing`,
      );
    }
    // Over and forgotten: there is nothing left to cancel.
    if (context.sessions.wasExpired(id)) return reply.code(204).send();
    throw new RequestNotFoundError(`This server has no request ${id}`);
  });
}

/**
 * Throws 403 FORBIDDEN unless `request` carries `session`'s resume token and, when API keys are
 * set, comes with its starter's key. One answer for every way of failing, so it tells nothing.
 */
function assertOwner(
  context: ServerContext,
  request: FastifyRequest,
  session: StreamSession,
): void {
  const principal = context.principals.get(request.raw);
  if (session.owner.admits(request.headers[SseHeader.resumeToken], principal)) return;
  throw new ForbiddenError(
    `Request ${session.requestId} is someone else's: resuming or cancelling it needs the ${SseHeader.resumeToken} its start answered with, and the same API key`,
  );
}

function parseLastEventId(value: string | string[] | undefined): number {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || !/^\d{1,15}$/.test(text)) return 0;
  return Number(text);
}
