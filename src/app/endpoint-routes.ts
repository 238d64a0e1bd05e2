import type { FastifyReply, FastifyRequest } from "fastify";
import { type Dialect, dialectOf, RESUME_QUERY, SseHeader } from "../events/sse-names.ts";
import { toJson } from "../events/to-json.ts";
import { onAbort } from "../internal/abort-of.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import {
  MethodNotAllowedError,
  UnknownDialectError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "./errors.ts";
import type { HttpServer } from "./http-server.ts";
import { playgroundHtml } from "./playground/index.ts";
import { assertOpen, type ServerContext } from "./server-context.ts";
import { resumeStream, startStream } from "./stream-routes.ts";
import { StreamingResponse } from "./streaming-response.ts";

/**
 * `POST <path>` for each endpoint (validate, call, answer JSON or a stream), `GET <path>?requestId`
 * to resume one of its streams, and `GET /`, the playground.
 */
export function registerEndpoints(server: HttpServer, context: ServerContext): void {
  const sendPlayground = (reply: FastifyReply) =>
    reply
      .type("text/html; charset=utf-8")
      .send(playgroundHtml({ title: context.title, appId: context.appId }));
  for (const e of context.endpoints) {
    server.post(e.path, (request, reply) => callEndpoint(context, e, request, reply));
    server.get(e.path, async (request, reply) => {
      const id = (request.query as Record<string, unknown>)[RESUME_QUERY];
      if (typeof id === "string" && id !== "") {
        // Only troupe's dialect has event ids to resume from: a header must not ask for another.
        const header = request.headers[SseHeader.dialect];
        if (header !== undefined && dialectOf(header) !== "troupe") {
          throw new UnknownDialectError(
            `Resuming is served in troupe's dialect, the only one with event ids; got ${SseHeader.dialect}: ${JSON.stringify(header)}`,
          );
        }
        return resumeStream(context, request, reply, id);
      }
      if (e.path === "/") return sendPlayground(reply);
      throw new MethodNotAllowedError(`GET ${e.path} needs ?requestId= (to resume a stream)`, [
        "POST",
      ]);
    });
  }
  if (!context.endpoints.some((e) => e.path === "/")) {
    server.get("/", async (_request, reply) => sendPlayground(reply));
  }
}

/** What a route adds to a plain call of its endpoint (fal's direct routes). */
export interface CallOptions {
  /**
   * Ends the call early (fal's `x-fal-request-timeout`): when it aborts, `ctx.signal` aborts
   * with its reason, and a call whose handler has not returned yet fails with that reason at
   * once, whatever the handler does (a stream it returns later is closed unread).
   */
  readonly signal?: AbortSignal;
}

/**
 * Runs `e` for `request` as `POST <e.path>` does: checks the body, calls the handler with
 * `ctx.signal` (aborted when the client leaves), answers JSON, or streams a `StreamingResponse`
 * in the dialect the request asks for.
 */
export async function callEndpoint(
  context: ServerContext,
  e: EndpointDefinition,
  request: FastifyRequest,
  reply: FastifyReply,
  options: CallOptions = {},
): Promise<unknown> {
  assertOpen(context);
  const dialect = requestedDialect(request);
  const input = validatedInput(e, request);
  // The server's own id (http-server.ts), never one a client proposed.
  const requestId = request.id;
  const controller = new AbortController();
  // How a client cancels a request that has no resume token yet (a JSON call, or a stream whose
  // endpoint has not returned): it closes its connection, aborting `ctx.signal`.
  const onClose = (): void => {
    if (!reply.raw.writableFinished) {
      controller.abort(new DOMException("The client disconnected", "AbortError"));
    }
  };
  reply.raw.once("close", onClose);
  const { signal } = options;
  const offAbort = onAbort(signal, () => controller.abort(signal?.reason));
  context.inflight.set(requestId, controller);
  let result: unknown;
  try {
    const handled = e.handler(input, { requestId, signal: controller.signal });
    result = await (signal === undefined ? handled : unlessAborted(handled, signal));
  } finally {
    context.inflight.delete(requestId);
    reply.raw.off("close", onClose);
    offAbort();
  }
  if (!StreamingResponse.isInstance(result)) {
    return reply.type("application/json; charset=utf-8").send(toJson(result));
  }
  if (controller.signal.aborted || context.closing()) {
    // Nobody is left to read it; a stream not read yet has not started any work.
    void Promise.resolve(result.body[Symbol.asyncIterator]().return?.()).catch(() => {});
    reply.hijack();
    request.raw.socket.destroy();
    return;
  }
  startStream(context, request, reply, result, {
    requestId,
    route: e.path,
    dialect,
    endpointController: controller,
  });
}

/**
 * `handled`, or a rejection with `signal`'s reason as soon as it aborts. A stream the handler
 * returns after that is closed unread (it started no work); a later failure is dropped.
 */
function unlessAborted(handled: unknown, signal: AbortSignal): Promise<unknown> {
  const result = Promise.resolve(handled);
  return new Promise((resolve, reject) => {
    const offAbort = onAbort(signal, () => reject(signal.reason));
    result.then(
      (value) => {
        offAbort();
        if (signal.aborted && StreamingResponse.isInstance(value)) {
          void Promise.resolve(value.body[Symbol.asyncIterator]().return?.()).catch(() => {});
        }
        resolve(value);
      },
      (error: unknown) => {
        offAbort();
        reject(error);
      },
    );
  });
}

/**
 * The request's body as `e`'s schema parses it: 415 for a body that is not JSON, 422 (with
 * FastAPI's `detail`, as fal answers) for one that does not match. Every route that runs an
 * endpoint (its own path, fal's direct routes, the queue's submit) checks its body here.
 */
export function validatedInput(e: EndpointDefinition, request: FastifyRequest): unknown {
  const contentType = request.headers["content-type"];
  if (contentType === undefined || !/^application\/json\s*(;|$)/i.test(contentType.trim())) {
    throw new UnsupportedMediaTypeError(
      `Expected Content-Type: application/json, got ${contentType ?? "none"}`,
    );
  }
  const parsed = e.input.safeParse(request.body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
      type: issue.code,
    }));
    const list = issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ");
    throw new ValidationError(`The request body does not match ${e.path}'s input: ${list}`, issues);
  }
  return parsed.data;
}

/** The dialect the request's `troupe-dialect` header asks for; 400 for one that is none. */
function requestedDialect(request: FastifyRequest): Dialect {
  const header = request.headers[SseHeader.dialect];
  const dialect = dialectOf(header);
  if (dialect === undefined) {
    throw new UnknownDialectError(
      `Expected the ${SseHeader.dialect} header to be "fal" or "troupe", got ${JSON.stringify(header)}`,
    );
  }
  return dialect;
}
