import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { type FastifyReply, type FastifyRequest, fastify, LogController } from "fastify";
import { pino } from "pino";
import { toJson } from "../encoding/json.ts";
import { SseEvent, SseHeader, TROUPE_PROTOCOL_VERSION } from "../encoding/sse.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { App, AppClass } from "./app.ts";
import { type EndpointDefinition, endpointsOf } from "./endpoint.ts";
import {
  InvalidJsonError,
  MethodNotAllowedError,
  NotFoundError,
  ReplayUnavailableError,
  RequestNotFoundError,
  ShuttingDownError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "./errors.ts";
import { healthReport } from "./health.ts";
import { sendError, toHttpError } from "./http-errors.ts";
import { ServerMetrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import { type ResolvedServeOptions, resolveServeOptions, type ServeOptions } from "./options.ts";
import { playgroundHtml } from "./playground/index.ts";
import { runnersOf } from "./runners-of.ts";
import { SessionRegistry } from "./session-registry.ts";
import { SseConnection } from "./sse-connection.ts";
import { StreamSession } from "./stream-session.ts";
import { type SourceItem, streamSource, wireError } from "./stream-source.ts";
import { StreamingResponse } from "./streaming-response.ts";

/** A running server, from {@link serve}. */
export interface ServerHandle extends AsyncDisposable {
  /** `http://host:port`, ready for `fetch`. */
  readonly url: string;
  /** The port it listens on (the one picked when `port` was 0). */
  readonly port: number;
  /** The app instance it serves. */
  readonly app: App;
  /**
   * Stops accepting requests, ends open streams with a SHUTTING_DOWN error event, waits for
   * the connections to close, then runs the app's `teardown()`. Calling it again returns the
   * same promise.
   */
  close(): Promise<void>;
}

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BUILTIN_PATHS = new Set(["/health", "/openapi.json", "/metrics"]);

/**
 * Constructs `AppClass`, runs its `setup()`, then serves its endpoints over HTTP
 * (docs/protocol.md). If `setup()` throws, `teardown()` runs and `serve` rejects.
 *
 * @example
 * ```ts
 * await using server = await serve(MyApp, { port: 0 });
 * await fetch(`${server.url}/stream`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
 * ```
 */
export async function serve(AppClass: AppClass, options: ServeOptions = {}): Promise<ServerHandle> {
  const resolved = resolveServeOptions(options);
  const app = new AppClass();
  const endpoints = checkEndpoints(endpointsOf(app));
  try {
    await app.setup();
  } catch (error) {
    await app.teardown().catch(() => {});
    throw error;
  }
  try {
    return await listen(app, AppClass.name || "troupe app", endpoints, resolved);
  } catch (error) {
    await app.teardown().catch(() => {});
    throw error;
  }
}

function checkEndpoints(endpoints: readonly EndpointDefinition[]): readonly EndpointDefinition[] {
  const seen = new Set<string>();
  for (const e of endpoints) {
    if (seen.has(e.path)) {
      throw new InvalidArgumentError(`Two endpoints share the path ${e.path}`);
    }
    if (BUILTIN_PATHS.has(e.path)) {
      throw new InvalidArgumentError(`The path ${e.path} is served by troupe itself`);
    }
    seen.add(e.path);
  }
  return endpoints;
}

async function listen(
  app: App,
  title: string,
  endpoints: readonly EndpointDefinition[],
  options: ResolvedServeOptions,
): Promise<ServerHandle> {
  const logger = options.logger ?? pino({ name: "troupe" });
  const runners = () => runnersOf(app);
  const metrics = new ServerMetrics(runners);
  const registry = new SessionRegistry();
  const inflight = new Map<string, AbortController>();
  let closing: Promise<void> | undefined;

  const server = fastify({
    loggerInstance: logger,
    // The server logs each request once, when it completes (streams when they end).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers[SseHeader.requestId];
      return typeof incoming === "string" && SANE_REQUEST_ID.test(incoming)
        ? incoming
        : randomUUID();
    },
    return503OnClosing: true,
  });

  server.removeAllContentTypeParsers();
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(
        new InvalidJsonError(`The request body is not valid JSON: ${(error as Error).message}`),
        undefined,
      );
    }
  });

  server.addHook("onRequest", async (request, reply) => {
    reply.header(SseHeader.requestId, request.id);
  });
  server.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const status = String(reply.statusCode);
    metrics.requests.inc({ method: request.method, route, status });
    metrics.duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.info(
      {
        reqId: request.id,
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: reply.elapsedTime,
      },
      "request completed",
    );
  });
  server.setErrorHandler((error, request, reply) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500)
      request.log.error({ reqId: request.id, err: error }, "request failed");
    sendError(reply, request.id, httpError);
  });

  const allowed = allowedMethods(endpoints);
  server.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allow = allowed(path);
    const error =
      allow.length > 0
        ? new MethodNotAllowedError(`${request.method} is not allowed on ${path}`, allow)
        : new NotFoundError(`No route ${request.method} ${path}`);
    sendError(reply, request.id, error);
  });

  const assertOpen = (): void => {
    if (closing !== undefined) throw new UnavailableError("The server is shutting down");
  };

  // --- streams ---------------------------------------------------------------------------------

  const openConnection = (
    request: FastifyRequest,
    reply: FastifyReply,
    id: string,
  ): SseConnection => {
    reply.hijack();
    const connection = new SseConnection(
      request.raw.socket,
      id,
      options.heartbeatInterval,
      options.timers,
    );
    metrics.openStreams.inc();
    connection.closed.addEventListener("abort", () => metrics.openStreams.dec(), { once: true });
    return connection;
  };

  const startStream = (
    request: FastifyRequest,
    reply: FastifyReply,
    response: StreamingResponse,
    requestId: string,
    route: string,
  ): void => {
    const dialect = request.headers[SseHeader.protocol] === TROUPE_PROTOCOL_VERSION ? 2 : 1;
    const connection = openConnection(request, reply, requestId);
    if (dialect === 2) connection.write(`retry: ${options.retry}\n\n`);
    const started = performance.now();
    const session = new StreamSession(streamSource(response.body, dialect, requestId), {
      requestId,
      dialect,
      replayLimit: options.replayLimit,
      resumeWindow: options.resumeWindow,
      hooks: {
        onEvent(first) {
          metrics.eventsSent.inc({ route });
          if (first)
            metrics.timeToFirstEvent.observe({ route }, (performance.now() - started) / 1000);
        },
        onEnd(ended) {
          registry.retire(ended, dialect === 2 ? options.resumeWindow : 0);
          const ms = performance.now() - started;
          metrics.requests.inc({ method: "POST", route, status: "200" });
          metrics.duration.observe({ method: "POST", route }, ms / 1000);
          logger.info({ reqId: requestId, route, dialect, ms }, "stream ended");
        },
      },
    });
    registry.add(session);
    session.attach(connection);
    void session.run();
  };

  const resume = (request: FastifyRequest, reply: FastifyReply, id: string): void => {
    assertOpen();
    const session = registry.get(id);
    if (session === undefined && !registry.wasExpired(id)) {
      throw new RequestNotFoundError(`This server has no request ${id}`);
    }
    const connection = openConnection(request, reply, id);
    connection.write(`retry: ${options.retry}\n\n`);
    const lastId = parseLastEventId(request.headers[SseHeader.lastEventId]);
    if (session === undefined || session.dialect === 1 || !session.attach(connection, lastId)) {
      const error = new ReplayUnavailableError(
        `The events of request ${id} after ${lastId} are no longer kept`,
      );
      connection.end(errorEvent(error, id));
    }
  };

  // --- endpoints -------------------------------------------------------------------------------

  for (const e of endpoints) {
    server.post(e.path, async (request, reply) => {
      assertOpen();
      if (!isJson(request.headers["content-type"])) {
        throw new UnsupportedMediaTypeError(
          `Expected Content-Type: application/json, got ${request.headers["content-type"] ?? "none"}`,
        );
      }
      const parsed = e.input.safeParse(request.body);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join("."),
          message: issue.message,
        }));
        throw new ValidationError(
          `The request body does not match ${e.path}'s input: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`,
          issues,
        );
      }
      let requestId = request.id;
      // An honoured incoming id must not take over another request's stream.
      if (registry.has(requestId) || inflight.has(requestId)) requestId = randomUUID();
      reply.header(SseHeader.requestId, requestId);
      const controller = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) {
          controller.abort(new DOMException("The client disconnected", "AbortError"));
        }
      };
      reply.raw.once("close", onClose);
      inflight.set(requestId, controller);
      let result: unknown;
      try {
        result = await e.handler(parsed.data, { requestId, signal: controller.signal });
      } finally {
        inflight.delete(requestId);
        reply.raw.off("close", onClose);
      }
      if (result instanceof StreamingResponse) {
        if (controller.signal.aborted || closing !== undefined) {
          // Nobody is left to read it: a stream not yet read has not started any work.
          const iterator = result.body[Symbol.asyncIterator]();
          void Promise.resolve(iterator.return?.()).catch(() => {});
          reply.hijack();
          request.raw.socket.destroy();
          return;
        }
        startStream(request, reply, result, requestId, e.path);
        return;
      }
      return reply.type("application/json; charset=utf-8").send(toJson(result));
    });
    server.get(e.path, async (request, reply) => {
      const id = (request.query as Record<string, unknown>).requestId;
      if (typeof id === "string" && id !== "") return resume(request, reply, id);
      if (e.path === "/") return sendPlayground(reply);
      throw new MethodNotAllowedError(`GET ${e.path} needs ?requestId= (to resume a stream)`, [
        "POST",
      ]);
    });
  }

  const sendPlayground = (reply: FastifyReply) =>
    reply.type("text/html; charset=utf-8").send(playgroundHtml({ title }));
  if (!endpoints.some((e) => e.path === "/")) {
    server.get("/", async (_request, reply) => sendPlayground(reply));
  }

  server.get("/requests/:id/events", async (request, reply) =>
    resume(request, reply, (request.params as { id: string }).id),
  );
  server.delete("/requests/:id", async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const session = registry.get(id);
    const controller = inflight.get(id);
    if (session === undefined && controller === undefined && !registry.wasExpired(id)) {
      throw new RequestNotFoundError(`This server has no request ${id}`);
    }
    const reason = new DOMException("The client cancelled the request", "AbortError");
    session?.cancel(reason);
    controller?.abort(reason);
    return reply.code(204).send();
  });

  server.get("/health", async (_request, reply) => {
    const report = healthReport(runners());
    const status = closing !== undefined ? "failed" : report.status;
    return reply.code(status === "ready" ? 200 : 503).send({ ...report, status });
  });
  server.get("/openapi.json", async (_request, reply) =>
    reply.send(openApiDocument(title, endpoints)),
  );
  server.get("/metrics", async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  await server.listen({ port: options.port, host: options.host });
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  const shutdown = async (): Promise<void> => {
    const stopped = server.close();
    const error = new ShuttingDownError();
    for (const session of registry.active()) session.abandon(fatal(error, session.requestId));
    for (const controller of inflight.values()) controller.abort(error);
    await stopped;
    registry.clearTimers();
    try {
      await app.teardown();
    } finally {
      // An overridden teardown() that forgets its runners must not leave ranks behind.
      await Promise.all(
        runners()
          .filter(({ runner }) => runner.state !== "stopped")
          .map(({ runner }) => runner.stop()),
      );
    }
  };
  const close = (): Promise<void> => {
    closing ??= shutdown().finally(() => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    });
    return closing;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, "shutting down");
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  if (options.handleSignals) {
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  logger.info({ url: `http://${host}:${port}` }, "listening");
  return {
    url: `http://${host}:${port}`,
    port,
    app,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function fatal(error: Error, requestId: string): SourceItem {
  return {
    type: "event",
    event: SseEvent.error,
    data: toJson({ error: wireError(error, requestId), fatal: true }),
    final: true,
  };
}

function errorEvent(error: Error, requestId: string): string {
  return `event: ${SseEvent.error}\ndata: ${toJson({ error: wireError(error, requestId), fatal: true })}\n\n`;
}

function parseLastEventId(value: string | string[] | undefined): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d{1,15}$/.test(text.trim())) return 0;
  return Number(text.trim());
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  return /^application\/json\s*(;|$)/i.test(contentType.trim());
}

/** The methods each known path answers, for 405's `Allow`. */
function allowedMethods(endpoints: readonly EndpointDefinition[]): (path: string) => string[] {
  const exact = new Map<string, string[]>([
    ["/", ["GET", "HEAD"]],
    ["/health", ["GET", "HEAD"]],
    ["/openapi.json", ["GET", "HEAD"]],
    ["/metrics", ["GET", "HEAD"]],
  ]);
  for (const e of endpoints) exact.set(e.path, e.path === "/" ? ["GET", "HEAD", "POST"] : ["POST"]);
  return (path) => {
    const known = exact.get(path);
    if (known !== undefined) return known;
    if (/^\/requests\/[^/]+$/.test(path)) return ["DELETE"];
    if (/^\/requests\/[^/]+\/events$/.test(path)) return ["GET", "HEAD"];
    return [];
  };
}
