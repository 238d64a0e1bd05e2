import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { HostNotAllowedError } from "./errors.ts";
import { sendError } from "./http-errors.ts";
import type { ServerContext } from "./server-context.ts";

/**
 * DNS rebinding: a page on `evil.example` points its name at 127.0.0.1 and then talks to a
 * server on the user's own machine as if it were its own origin, so the browser's same-origin
 * rule no longer protects it. The one thing the attacker cannot change is the `Host` header,
 * which carries the attacker's name, so the server refuses names it does not answer for.
 */

/** `localhost`, `*.localhost` (RFC 6761 keeps them on this machine), 127.0.0.0/8 and `::1`. */
export function isLoopbackName(name: string): boolean {
  const host = name.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  // Any spelling of ::1 (0:0:0:0:0:0:0:1, ::0001), as the URL parser writes it.
  return isIP(host) === 6 && new URL(`http://[${host}]/`).hostname === "[::1]";
}

/**
 * The host name of a `Host` header (or of an `allowedHosts` entry) without its port, in lower
 * case; an IPv6 address keeps its brackets. `undefined` for an empty or malformed one.
 */
export function hostName(value: string): string | undefined {
  const text = value.trim().toLowerCase();
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    const rest = text.slice(end + 1);
    if (end < 0 || (rest !== "" && !/^:\d*$/.test(rest))) return undefined;
    return text.slice(0, end + 1);
  }
  // A bare IPv6 address (only an allowedHosts entry can be one): it has no port.
  if (isIP(text) === 6) return `[${text}]`;
  const colon = text.indexOf(":");
  if (colon >= 0 && !/^:\d*$/.test(text.slice(colon))) return undefined;
  const name = colon < 0 ? text : text.slice(0, colon);
  return name === "" ? undefined : name;
}

/**
 * Which `Host` names are answered, from `allowedHosts` and the address the server binds:
 * `true` any; a list those it names plus the loopback names (never an attacker's); unset, on a
 * loopback address only the loopback names, elsewhere any.
 */
export function hostPolicy(
  allowedHosts: readonly string[] | true | undefined,
  bindHost: string,
): (host: string | undefined) => boolean {
  if (allowedHosts === true) return () => true;
  if (allowedHosts === undefined && !isLoopbackName(bindHost)) return () => true;
  const named = new Set((allowedHosts ?? []).map(hostName));
  return (host) => {
    const name = host === undefined ? undefined : hostName(host);
    return name !== undefined && (isLoopbackName(name) || named.has(name));
  };
}

/**
 * An `onRequest` hook: a request whose `Host` this server does not answer for gets 403
 * `HOST_NOT_ALLOWED` and reaches no route. A request without `Host` (HTTP/1.0) is refused too
 * wherever names are checked. Registered right after the request-id hook, so a refusal still
 * carries `x-request-id`.
 */
export function hostCheckHook(context: ServerContext) {
  const allowed = hostPolicy(context.options.allowedHosts, context.options.host);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const host = request.raw.headers.host;
    if (allowed(host)) return;
    const error = new HostNotAllowedError(
      host === undefined
        ? "The request has no Host header; this server answers only the hosts it is told to"
        : `This server does not answer for the host ${JSON.stringify(host.slice(0, 100))}; add it to allowedHosts to allow it`,
    );
    context.failures.set(request.raw, error);
    sendError(reply, request.id, { status: error.status, error });
    // Resolves once the answer is written, so no later hook or route runs for it.
    await reply;
  };
}
