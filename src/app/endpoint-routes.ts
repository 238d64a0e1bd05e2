import { randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { toJson } from "../encoding/json.ts";
import { SseHeader } from "../encoding/sse.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { MethodNotAllowedError, UnsupportedMediaTypeError, ValidationError } from "./errors.ts";
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
    reply.type("text/html; charset=utf-8").send(playgroundHtml({ title: context.title }));
  for (const e of context.endpoints) {
    server.post(e.path, (request, reply) => callEndpoint(context, e, request, reply));
    server.get(e.path, async (request, reply) => {
      const id = (request.query as Record<string, unknown>).requestId;
      if (typeof id === "string" && id !== "") return resumeStream(context, request, reply, id);
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

async function callEndpoint(
  context: ServerContext,
  e: EndpointDefinition,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  assertOpen(context);
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
    }));
    const list = issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ");
    throw new ValidationError(`The request body does not match ${e.path}'s input: ${list}`, issues);
  }
  let requestId = request.id;
  // An honoured incoming id must not take over another request's stream.
  if (context.sessions.has(requestId) || context.inflight.has(requestId)) requestId = randomUUID();
  reply.header(SseHeader.requestId, requestId);
  const controller = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) {
      controller.abort(new DOMException("The client disconnected", "AbortError"));
    }
  };
  reply.raw.once("close", onClose);
  context.inflight.set(requestId, controller);
  let result: unknown;
  try {
    result = await e.handler(parsed.data, { requestId, signal: controller.signal });
  } finally {
    context.inflight.delete(requestId);
    reply.raw.off("close", onClose);
  }
  if (!(result instanceof StreamingResponse)) {
    return reply.type("application/json; charset=utf-8").send(toJson(result));
  }
  if (controller.signal.aborted || context.closing()) {
    // Nobody is left to read it; a stream not read yet has not started any work.
    void Promise.resolve(result.body[Symbol.asyncIterator]().return?.()).catch(() => {});
    reply.hijack();
    request.raw.socket.destroy();
    return;
  }
  startStream(context, request, reply, result, requestId, e.path, controller);
}
