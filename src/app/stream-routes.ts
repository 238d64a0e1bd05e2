import { performance } from "node:perf_hooks";
import type { FastifyReply, FastifyRequest } from "fastify";
import { toJson } from "../encoding/json.ts";
import { SseEvent, SseHeader, TROUPE_PROTOCOL_VERSION } from "../encoding/sse.ts";
import { corsHeaders } from "./cors.ts";
import { ReplayUnavailableError, RequestNotFoundError } from "./errors.ts";
import type { HttpServer } from "./http-server.ts";
import { assertOpen, type ServerContext } from "./server-context.ts";
import { SseConnection } from "./sse-connection.ts";
import { StreamSession } from "./stream-session.ts";
import { type SourceItem, streamSource, wireError } from "./stream-source.ts";
import type { StreamingResponse } from "./streaming-response.ts";

/** Takes the socket over from fastify and opens an SSE response on it. */
function openConnection(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  requestId: string,
): SseConnection {
  reply.hijack();
  const { options, metrics } = context;
  const connection = new SseConnection(
    request.raw.socket,
    requestId,
    options.heartbeatInterval,
    options.timers,
    corsHeaders(options.cors, request.headers.origin),
  );
  metrics.openStreams.inc();
  connection.closed.addEventListener("abort", () => metrics.openStreams.dec(), { once: true });
  return connection;
}

/** Answers `request` with `response` streamed in the dialect the client asked for. */
export function startStream(
  context: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  response: StreamingResponse,
  requestId: string,
  route: string,
  endpointController: AbortController,
): void {
  const { options, metrics, sessions, logger } = context;
  const dialect = request.headers[SseHeader.protocol] === TROUPE_PROTOCOL_VERSION ? 2 : 1;
  const connection = openConnection(context, request, reply, requestId);
  if (dialect === 2) connection.write(`retry: ${options.retry}\n\n`);
  const started = performance.now();
  const source = streamSource(response.body, dialect, requestId);
  const session = new StreamSession(
    {
      next: () => source.next(),
      cancel(reason) {
        // The endpoint's `ctx.signal` fires too, whatever its stream is made of.
        endpointController.abort(reason);
        source.cancel(reason);
      },
    },
    {
      requestId,
      dialect,
      replayLimit: options.replayLimit,
      resumeWindow: options.resumeWindow,
      hooks: {
        onEvent(first) {
          metrics.eventsSent.inc({ route });
          if (first) {
            metrics.timeToFirstEvent.observe({ route }, (performance.now() - started) / 1000);
          }
        },
        onEnd(ended) {
          sessions.retire(ended, dialect === 2 ? options.resumeWindow : 0);
          const ms = performance.now() - started;
          metrics.requests.inc({ method: "POST", route, status: "200" });
          metrics.duration.observe({ method: "POST", route }, ms / 1000);
          logger.info({ reqId: requestId, route, dialect, ms }, "stream ended");
        },
      },
    },
  );
  sessions.add(session);
  session.attach(connection);
  void session.run();
}

/**
 * A dialect-2 client coming back (`Last-Event-ID`): the events it missed, then the live stream;
 * REPLAY_UNAVAILABLE when they are gone, 404 for an id this server never had.
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
  const connection = openConnection(context, request, reply, requestId);
  connection.write(`retry: ${context.options.retry}\n\n`);
  const lastId = parseLastEventId(request.headers[SseHeader.lastEventId]);
  if (session === undefined || session.dialect === 1 || !session.attach(connection, lastId)) {
    const error = new ReplayUnavailableError(
      `The events of request ${requestId} after ${lastId} are no longer kept`,
    );
    const item = fatalItem(error, requestId);
    connection.end(`event: ${SseEvent.error}\ndata: ${item.data}\n\n`);
  }
}

/** `GET /requests/:id/events` (resume) and `DELETE /requests/:id` (cancel). */
export function registerRequestRoutes(server: HttpServer, context: ServerContext): void {
  server.get("/requests/:id/events", async (request, reply) =>
    resumeStream(context, request, reply, (request.params as { id: string }).id),
  );
  server.delete("/requests/:id", async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const session = context.sessions.get(id);
    const controller = context.inflight.get(id);
    if (session === undefined && controller === undefined && !context.sessions.wasExpired(id)) {
      throw new RequestNotFoundError(`This server has no request ${id}`);
    }
    const reason = new DOMException("The client cancelled the request", "AbortError");
    session?.cancel(reason);
    controller?.abort(reason);
    return reply.code(204).send();
  });
}

/** A fatal `error` event carrying `error`: the last event of a stream. */
export function fatalItem(error: Error, requestId: string): SourceItem & { type: "event" } {
  return {
    type: "event",
    event: SseEvent.error,
    data: toJson({ error: wireError(error, requestId), fatal: true }),
    final: true,
  };
}

function parseLastEventId(value: string | string[] | undefined): number {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || !/^\d{1,15}$/.test(text)) return 0;
  return Number(text);
}
