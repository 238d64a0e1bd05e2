import type { FastifyReply, FastifyRequest } from "fastify";
import { InvalidArgumentError } from "../errors.ts";
import { SseHeader } from "../events/sse-names.ts";
import { TARGET_URL_HEADER } from "./fal-hosts.ts";
import { FalTimeoutHeader } from "./fal-request-timeout.ts";
import type { ServerContext } from "./server-context.ts";

/**
 * Cross-origin access for browser clients on other origins (a page served elsewhere, or opened
 * from a file). `false` (the default) sends no CORS headers at all, so a page elsewhere can
 * neither read an answer nor send anything but a "simple" request, which the server refuses
 * (415: only JSON bodies are read); `{ origin }` names the origins allowed; `true` lets any
 * origin call the app without credentials, as a public API does.
 */
export type CorsOption = boolean | { readonly origin: string | readonly string[] };

/**
 * Request headers a browser may send: JSON bodies, the dialect, resume, request ids, API keys,
 * and fal's client's proxy target and timeout.
 */
const ALLOWED_HEADERS = `content-type, authorization, ${SseHeader.dialect}, ${SseHeader.lastEventId}, ${SseHeader.requestId}, ${SseHeader.resumeToken}, ${TARGET_URL_HEADER}, ${FalTimeoutHeader.timeout}`;
/** Response headers a page on another origin may read: the request ids, the dialect served, fal's timeout kind. */
const EXPOSED_HEADERS = `${SseHeader.requestId}, ${SseHeader.falRequestId}, ${SseHeader.dialect}, ${SseHeader.resumeToken}, ${FalTimeoutHeader.type}`;
const ALLOWED_METHODS = "GET, HEAD, POST, DELETE, OPTIONS";

export function checkCors(value: unknown): CorsOption {
  if (typeof value === "boolean") return value;
  const origin = (value as { origin?: unknown } | null)?.origin;
  const list = Array.isArray(origin) ? origin : [origin];
  if (list.length > 0 && list.every((o) => typeof o === "string" && o.length > 0)) {
    return value as CorsOption;
  }
  throw new InvalidArgumentError(
    `Expected \`cors\` to be a boolean or { origin: string | string[] }, got ${JSON.stringify(value)}`,
  );
}

/** The CORS response headers for a request from `origin`, or none when it is not allowed. */
export function corsHeaders(
  option: CorsOption,
  origin: string | undefined,
): Record<string, string> {
  if (option === false || origin === undefined) return {};
  if (option === true) {
    return { "access-control-allow-origin": "*", "access-control-expose-headers": EXPOSED_HEADERS };
  }
  const allowed = typeof option.origin === "string" ? [option.origin] : option.origin;
  if (!allowed.includes(origin)) return { vary: "origin" };
  return {
    "access-control-allow-origin": origin,
    "access-control-expose-headers": EXPOSED_HEADERS,
    vary: "origin",
  };
}

/**
 * An `onRequest` hook: adds the CORS headers to every response, and answers a preflight
 * (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin itself with 204. Any
 * other preflight goes on like any request (a key is needed when keys are set; then 405), and
 * carries no allow headers, so the browser refuses the request it asked about.
 * `cors: true` is logged as a warning when the server is built: any page may call the app.
 */
export function corsHook(context: ServerContext) {
  const option = context.options.cors;
  if (option === true) {
    context.logger.warn(
      "cors: true lets a page on any origin call this server and read its answers; name the origins with cors: { origin: [...] } instead",
    );
  }
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const headers = corsHeaders(option, request.headers.origin);
    reply.headers(headers);
    const preflight =
      request.method === "OPTIONS" &&
      request.headers["access-control-request-method"] !== undefined;
    if (!preflight || headers["access-control-allow-origin"] === undefined) return;
    reply.headers({
      "access-control-allow-methods": ALLOWED_METHODS,
      "access-control-allow-headers": ALLOWED_HEADERS,
      "access-control-max-age": "600",
    });
    await reply.code(204).send();
  };
}
