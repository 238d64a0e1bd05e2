import { randomUUID } from "node:crypto";
import { fastify, LogController } from "fastify";
import { REQUESTS_PATH, SseHeader } from "../events/sse-names.ts";
import { corsHook } from "./cors.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { InvalidJsonError, MethodNotAllowedError, NotFoundError } from "./errors.ts";
import { httpFailure, sendError } from "./http-errors.ts";
import { recordRequest } from "./request-outcome.ts";
import type { ServerContext } from "./server-context.ts";

/** An incoming `x-request-id` is honoured when it looks like this. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The fastify instance without routes: JSON bodies only (parsed here, so bad JSON is a 400 of
 * ours), `x-request-id` and `x-fal-request-id` on every response, one log line and the metrics
 * per request (a stream's when it ends, from its session), and the protocol's error bodies for
 * every failure, 404 and 405 included.
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
    reply.header(SseHeader.falRequestId, request.id);
  });
  server.addHook("onRequest", corsHook(context.options.cors));
  server.addHook("onResponse", async (request, reply) => {
    // A stream is recorded by its session when its request ends, with how it ended.
    if (context.streams.has(request.raw)) return;
    recordRequest(metrics, request.log, {
      method: request.method,
      url: request.url,
      route: request.routeOptions.url ?? "unmatched",
      status: reply.statusCode,
      ms: reply.elapsedTime,
      failure: context.failures.get(request.raw),
    });
  });
  server.setErrorHandler((error, request, reply) => {
    const failure = httpFailure(error);
    context.failures.set(request.raw, failure.error);
    sendError(reply, request.id, failure);
  });

  const allowed = allowedMethods(context.endpoints);
  server.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allow = allowed(path);
    const error =
      allow.length > 0
        ? new MethodNotAllowedError(`${request.method} is not allowed on ${path}`, allow)
        : new NotFoundError(`No route ${request.method} ${path}`);
    context.failures.set(request.raw, error);
    sendError(reply, request.id, httpFailure(error));
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
    if (
      path.startsWith(`${REQUESTS_PATH}/`) &&
      !path.slice(REQUESTS_PATH.length + 1).includes("/")
    ) {
      return ["DELETE"];
    }
    return [];
  };
}
