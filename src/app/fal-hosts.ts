/**
 * How fal's two hosts map onto one troupe server (docs/fal-compat.md): `fal.run` (the direct
 * routes, `POST /{appId}[/path]`) on bare paths, `queue.fal.run` (the queue) under
 * {@link QUEUE_PATH}, or on bare paths for a request whose `Host` is named `queue.*`. And fal's
 * proxy convention: a request to {@link FAL_PROXY_PATH} that names the fal URL it means in
 * `x-fal-target-url` is served as that URL. Both are applied to the URL before routing.
 */
import type { IncomingHttpHeaders } from "node:http";
import { QUEUE_PATH } from "../events/sse-names.ts";
import { BadRequestError } from "./errors.ts";
import type { HttpServer } from "./http-server.ts";

/** Where fal's clients with `proxyUrl` (and fal's server proxies) send their requests. */
export const FAL_PROXY_PATH = "/api/fal/proxy";

/** The header that names the fal URL a proxied request means. */
export const TARGET_URL_HEADER = "x-fal-target-url";

/** fal's hosts a proxied request may name, and where each one's paths are served here. */
const TARGET_HOSTS: ReadonlyMap<string, string> = new Map([
  ["fal.run", ""],
  ["queue.fal.run", QUEUE_PATH],
]);

/** What a request's URL is rewritten from: its URL as it arrived, and its headers. */
export interface ArrivingRequest {
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/**
 * fastify's `rewriteUrl`: the URL a request is routed by. A request to {@link FAL_PROXY_PATH}
 * with an acceptable `x-fal-target-url` becomes its target's path and query
 * (`https://fal.run/X` -> `/X`, `https://queue.fal.run/X` -> `/queue/X`); one without stays on
 * the proxy path, whose route refuses it (400). Otherwise a request whose `Host` starts with
 * `queue.` gets the queue's prefix. Never throws: fastify calls it outside any error handling.
 *
 * @example
 * ```ts
 * fastify({ rewriteUrl: rewriteFalUrl });
 * ```
 */
export function rewriteFalUrl(request: ArrivingRequest): string {
  const url = request.url ?? "/";
  if (pathOf(url) === FAL_PROXY_PATH) {
    const target = proxyTarget(request.headers[TARGET_URL_HEADER]);
    return "url" in target ? target.url : url;
  }
  const host = request.headers.host?.toLowerCase();
  if (host?.startsWith("queue.") === true && url.startsWith("/")) return `${QUEUE_PATH}${url}`;
  return url;
}

/**
 * The path and query here of the fal URL in `x-fal-target-url`, or why it is refused: it is
 * missing or repeated, not a URL, or not on `https://fal.run` or `https://queue.fal.run` (the
 * proxy reaches this server's own routes, never another host).
 */
export function proxyTarget(
  header: string | readonly string[] | undefined,
): { readonly url: string } | { readonly refused: string } {
  if (typeof header !== "string" || header.trim() === "") {
    return { refused: `A request to ${FAL_PROXY_PATH} needs one ${TARGET_URL_HEADER} header` };
  }
  let target: URL;
  try {
    target = new URL(header.trim());
  } catch {
    return { refused: `Expected ${TARGET_URL_HEADER} to be a URL, got ${shown(header)}` };
  }
  const prefix = TARGET_HOSTS.get(target.hostname);
  if (
    prefix === undefined ||
    target.protocol !== "https:" ||
    target.port !== "" ||
    target.username !== "" ||
    target.password !== ""
  ) {
    return {
      refused: `${TARGET_URL_HEADER} must name a URL on https://fal.run or https://queue.fal.run, got ${shown(header)}: this server is not an open proxy`,
    };
  }
  const url = `${prefix}${target.pathname}${target.search}`;
  if (pathOf(url) === FAL_PROXY_PATH) {
    return { refused: `${TARGET_URL_HEADER} names the proxy itself: ${shown(header)}` };
  }
  return { url };
}

/**
 * Any method on {@link FAL_PROXY_PATH}: reached only by a request whose target
 * {@link rewriteFalUrl} refused, answered 400 BAD_REQUEST saying why.
 */
export function registerFalProxyRoute(server: HttpServer): void {
  server.all(FAL_PROXY_PATH, async (request) => {
    const target = proxyTarget(request.headers[TARGET_URL_HEADER]);
    throw new BadRequestError("refused" in target ? target.refused : "Refused proxy request");
  });
}

function pathOf(url: string): string {
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}

/** A header value as an error message quotes it: JSON, cut to a readable length. */
function shown(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}
