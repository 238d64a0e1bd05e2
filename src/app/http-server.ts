import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";
import { fastify, LogController } from "fastify";
import { REQUESTS_PATH, SseHeader } from "../events/sse-names.ts";
import { authHook } from "./auth.ts";
import {
  clientErrorHandler,
  frameworkErrorHandler,
  MAX_PARAM_LENGTH,
  type ReceivedRequest,
  serverWithReceiveTimeouts,
} from "./client-errors.ts";
import { corsHook } from "./cors.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { MethodNotAllowedError, NotFoundError } from "./errors.ts";
import { rewriteFalUrl } from "./fal-hosts.ts";
import { hostCheckHook } from "./host-check.ts";
import { httpFailure, sendError } from "./http-errors.ts";
import { parseJsonBody } from "./json-body.ts";
import { recordRequest } from "./request-outcome.ts";
import type { ServerContext } from "./server-context.ts";

/** An incoming `x-request-id` is kept in the request's log line when it looks like this. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The fastify instance without routes: JSON bodies only (parsed here, so bad JSON is a 400 of
 * ours, too deep a body too, and no body is none), `x-request-id` and `x-fal-request-id` on every
 * response, one log line and the metrics per request (a stream's when it ends, from its session),
 * requests that must arrive within `requestTimeout`, and the protocol's error bodies for every
 * failure, 404, 405 and the refusals of Node's parser and of the router included. HTTPS with
 * `tls`; fal's hosts and proxy convention are mapped onto the routes before routing (fal-hosts.ts).
 */
export function createHttpServer(context: ServerContext) {
  const { metrics } = context;
  // Each request's id, for a refusal of Node's (a timeout) that comes after fastify gave it one.
  const requests = new WeakMap<IncomingMessage, ReceivedRequest>();
  const server = fastify({
    loggerInstance: context.logger,
    // The server logs each request once, when it completes (streams when they end).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: context.options.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => {
      // Every id is the server's own, 122 random bits: an id a client could choose or guess
      // would let it name someone else's request. A client's own id is only logged (below).
      const id = randomUUID();
      requests.set(req, { id, started: performance.now() });
      return id;
    },
    childLoggerFactory: (logger, bindings, options, req) => {
      const incoming = req.headers[SseHeader.requestId];
      const sane = typeof incoming === "string" && SANE_REQUEST_ID.test(incoming);
      return logger.child(sane ? { ...bindings, clientRequestId: incoming } : bindings, options);
    },
    return503OnClosing: true,
    serverFactory: serverWithReceiveTimeouts(context.options.requestTimeout, context.options.tls),
    rewriteUrl: rewriteFalUrl,
    clientErrorHandler: clientErrorHandler(context, requests),
    frameworkErrors: frameworkErrorHandler(context),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });

  server.removeAllContentTypeParsers();
  server.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string, context.options.maxBodyDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  server.addHook("onRequest", async (request, reply) => {
    reply.header(SseHeader.requestId, request.id);
    reply.header(SseHeader.falRequestId, request.id);
  });
  // Refusals come in this order, each before any route: a foreign Host, then CORS (which
  // answers an allowed preflight), then a missing key.
  server.addHook("onRequest", hostCheckHook(context));
  server.addHook("onRequest", corsHook(context));
  const { auth } = context.options;
  if (auth !== undefined) server.addHook("onRequest", authHook(context, auth));
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
    ["/health/live", ["GET", "HEAD"]],
    ["/health/ready", ["GET", "HEAD"]],
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
