import { randomUUID } from "node:crypto";
import { fastify, LogController } from "fastify";
import { SseHeader } from "../encoding/sse.ts";
import { corsHook } from "./cors.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { InvalidJsonError, MethodNotAllowedError, NotFoundError } from "./errors.ts";
import { sendError, toHttpError } from "./http-errors.ts";
import type { ServerContext } from "./server-context.ts";

/** An incoming `x-request-id` is honoured when it looks like this. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The fastify instance without routes: JSON bodies only (parsed here, so bad JSON is a 400 of
 * ours), `x-request-id` on every response, one log line and the metrics per request, and the
 * protocol's error bodies for every failure, 404 and 405 included.
 */
export function createHttpServer(context: ServerContext) {
  const { metrics } = context;
  const server = fastify({
    loggerInstance: context.logger,
    // The server logs each request once, when it completes (streams when they end).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: context.options.bodyLimit,
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
  server.addHook("onRequest", corsHook(context.options.cors));
  server.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
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
    if (httpError.status >= 500) {
      request.log.error({ reqId: request.id, err: error }, "request failed");
    }
    sendError(reply, request.id, httpError);
  });

  const allowed = allowedMethods(context.endpoints);
  server.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allow = allowed(path);
    const error =
      allow.length > 0
        ? new MethodNotAllowedError(`${request.method} is not allowed on ${path}`, allow)
        : new NotFoundError(`No route ${request.method} ${path}`);
    sendError(reply, request.id, error);
  });
  return server;
}

/** The server the routes are registered on. */
export type HttpServer = ReturnType<typeof createHttpServer>;

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
