/**
 * fal's direct routes, as `fal.run` answers them (docs/fal-compat.md): `POST /{appId}` and
 * `POST /{appId}/{endpoint path}` call that endpoint exactly as `POST /{endpoint path}` does, and
 * `POST /{appId}[/{endpoint path}]/stream` streams it, in fal's dialect unless the request asks
 * for troupe's (an endpoint that answers JSON streams its answer as the one event). On every one
 * `x-fal-request-timeout` is honoured: past it the call is cancelled on every rank and answered
 * 504 with `x-fal-request-timeout-type: user` (a stream already under way ends with the error).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { onAbort } from "../internal/abort-of.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { callEndpoint } from "./endpoint-routes.ts";
import {
  FalTimeoutHeader,
  RequestTimedOutError,
  requestDeadline,
  requestTimeoutOf,
} from "./fal-request-timeout.ts";
import type { HttpServer } from "./http-server.ts";
import type { ServerContext } from "./server-context.ts";
import { StreamingResponse } from "./streaming-response.ts";

/** The suffix `fal.stream` adds to an endpoint's URL. */
const STREAM_SUFFIX = "/stream";

/** Registers the direct routes of every endpoint under `/{context.appId}`. */
export function registerFalDirectRoutes(server: HttpServer, context: ServerContext): void {
  const base = `/${context.appId}`;
  const routes = new Map<string, EndpointDefinition>();
  for (const e of context.endpoints) routes.set(e.path === "/" ? base : `${base}${e.path}`, e);
  // An endpoint whose own path is `<path>/stream` is what `fal.stream` reaches there, as on fal.
  for (const [path, e] of [...routes]) {
    const streamPath = `${path}${STREAM_SUFFIX}`;
    if (!routes.has(streamPath)) routes.set(streamPath, streamed(e));
  }
  for (const [path, e] of routes) {
    server.post(path, (request, reply) => callDirect(context, e, request, reply));
  }
}

/** `e` as its `/stream` route runs it: a JSON answer becomes a stream of that one result. */
function streamed(e: EndpointDefinition): EndpointDefinition {
  return {
    ...e,
    streaming: true,
    handler: async (input, ctx) => {
      const result = await e.handler(input, ctx);
      return StreamingResponse.isInstance(result) ? result : new StreamingResponse(only(result));
    },
  };
}

async function* only(value: unknown): AsyncGenerator<unknown> {
  yield value;
}

async function callDirect(
  context: ServerContext,
  e: EndpointDefinition,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  const ms = requestTimeoutOf(request.headers[FalTimeoutHeader.timeout]);
  if (ms === undefined) return callEndpoint(context, e, request, reply);
  const deadline = requestDeadline(ms, reply.raw);
  let answered: unknown;
  try {
    answered = await callEndpoint(context, e, request, reply, { signal: deadline });
  } catch (error) {
    if (RequestTimedOutError.isInstance(error)) reply.header(FalTimeoutHeader.type, "user");
    throw error;
  }
  // A stream under way when the deadline passes ends with its fatal error event.
  const session = context.sessions.get(request.id);
  if (session !== undefined) {
    onAbort(deadline, () => session.cancel(deadline.reason as Error));
  }
  return answered;
}
