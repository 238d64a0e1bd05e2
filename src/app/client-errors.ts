/**
 * Requests refused before any route sees them, answered with troupe's error body like every other
 * refusal (docs/protocol.md, "Errors outside the stream"): a request that does not arrive within
 * `requestTimeout` (408), a request line or header Node's parser refuses (400), headers or a
 * request line past Node's header limit (431, 414), and a URL the router cannot take (a bad
 * percent-encoding 400, a path parameter past its length limit 414).
 */
import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  maxHeaderSize,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { createSecureContext } from "node:tls";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { InvalidArgumentError } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import { SseHeader } from "../events/sse-names.ts";
import {
  BadRequestError,
  HeadersTooLargeError,
  type HttpError,
  ReceiveTimeoutError,
  UrlTooLongError,
} from "./errors.ts";
import { httpFailure, sendError } from "./http-errors.ts";
import type { TlsOption } from "./options.ts";
import { recordRequest } from "./request-outcome.ts";
import type { ServerContext } from "./server-context.ts";

/**
 * How long an idle keep-alive connection stays open: longer than the 60 s idle timeout of common
 * load balancers, so that they, not the server, close it (closing first races their next request).
 */
const KEEP_ALIVE_TIMEOUT = 72_000;
/** Headers take at most this long even when `requestTimeout` allows a long upload. */
const HEADERS_TIMEOUT_CAP = 60_000;
/** The longest path parameter the router takes (fastify's `maxParamLength`). */
export const MAX_PARAM_LENGTH = 100;

/** The receive deadlines of a server whose requests must arrive within `requestTimeout` ms. */
export function receiveTimeouts(requestTimeout: number): {
  readonly requestTimeout: number;
  readonly headersTimeout: number;
  readonly connectionsCheckingInterval: number;
} {
  return {
    requestTimeout,
    // Node requires headersTimeout <= requestTimeout.
    headersTimeout: Math.min(HEADERS_TIMEOUT_CAP, requestTimeout),
    // Node looks for expired requests only this often (30 s by default, which would let a
    // 300 ms deadline pass unnoticed for half a minute); fastify does not expose it.
    connectionsCheckingInterval: Math.max(1, Math.min(1000, Math.floor(requestTimeout / 4))),
  };
}

/**
 * fastify's `serverFactory`: Node's HTTP server, or its HTTPS server with `tls`, with the receive
 * deadlines of `requestTimeout`. They cover the request's headers and body only (and a TLS
 * handshake, as long as the headers): a response streams for as long as it needs.
 */
export function serverWithReceiveTimeouts(
  requestTimeout: number,
  tls?: TlsOption,
): (handler: (request: IncomingMessage, response: ServerResponse) => void) => Server {
  return (handler) => {
    const timeouts = receiveTimeouts(requestTimeout);
    const server =
      tls === undefined
        ? createServer(timeouts, handler)
        : // fastify's types know one server type; an HTTPS server is an HTTP server over TLS.
          (createHttpsServer(
            {
              ...timeouts,
              ...secureContextOptions(tls),
              handshakeTimeout: timeouts.headersTimeout,
            },
            handler,
          ) as unknown as Server);
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
    return server;
  };
}

/** `tls` as Node's TLS options, checked first: a bad PEM or a key that is not the certificate's is INVALID_ARGUMENT. */
function secureContextOptions(tls: TlsOption): { cert: string | Buffer; key: string | Buffer } {
  const pem = (value: string | Uint8Array) =>
    typeof value === "string" ? value : Buffer.from(value);
  const options = { cert: pem(tls.cert), key: pem(tls.key) };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new InvalidArgumentError(
      `Expected \`tls\` to hold a PEM certificate and its private key: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return options;
}

/** A request fastify gave an id: the id, and `performance.now()` then. */
export interface ReceivedRequest {
  readonly id: string;
  readonly started: number;
}

/** What Node says about a connection whose request it refused (`clientError`). */
interface ClientError extends Error {
  readonly code?: string;
  /** The bytes Node was parsing when it gave up, and how many of them it had read. */
  readonly rawPacket?: unknown;
  readonly bytesParsed?: number;
}

/**
 * fastify's `clientErrorHandler`: answers the refused request with troupe's error body and
 * `connection: close` where nothing of a response went out on the socket yet, then closes the
 * connection, as Node does itself. The refusal gets the id of the request fastify was given, if
 * headers came, or a new one, and one log line. `requests` has fastify's id of each request Node
 * gave it, and when.
 */
export function clientErrorHandler(
  context: ServerContext,
  requests: WeakMap<IncomingMessage, ReceivedRequest>,
): (error: ClientError, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === "ECONNRESET" || socket.destroyed) {
      socket.destroy();
      return;
    }
    const refusal = clientRefusal(error, context.options.requestTimeout);
    // The response Node made for a request whose headers arrived (Node's own check, too).
    const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    const request = inFlight?.req;
    const received = request && requests.get(request);
    const requestId = received?.id ?? randomUUID();
    if (socket.writable && inFlight?.headersSent !== true) {
      socket.write(rawErrorResponse(refusal, requestId));
    }
    // At once, as Node does: bytes still arriving must not complete the request after all.
    socket.destroy();
    recordRequest(context.metrics, context.logger.child({ reqId: requestId }), {
      method: request?.method ?? "UNKNOWN",
      url: request?.url ?? "",
      route: "unmatched",
      status: refusal.status,
      ms: received === undefined ? 0 : performance.now() - received.started,
      failure: refusal,
    });
  };
}

/** The typed refusal for what Node's parser or its request timer reported. */
export function clientRefusal(error: ClientError, requestTimeout: number): HttpError {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT": {
      const { headersTimeout } = receiveTimeouts(requestTimeout);
      return new ReceiveTimeoutError(
        `The request did not arrive in time: the server waits ${headersTimeout} ms for its headers and ${requestTimeout} ms for all of it (requestTimeout)`,
        { cause: error },
      );
    }
    case "HPE_HEADER_OVERFLOW":
      return isRequestLine(error)
        ? new UrlTooLongError(
            `The request line is longer than the server accepts (${maxHeaderSize} bytes for it and the headers)`,
            { cause: error },
          )
        : new HeadersTooLargeError(
            `The request's headers are larger than the server accepts (${maxHeaderSize} bytes)`,
            { cause: error },
          );
    default: {
      const code = typeof error.code === "string" && /^HPE_[A-Z_]+$/.test(error.code);
      return new BadRequestError(
        `The request is not valid HTTP/1.1${code ? ` (${error.code})` : ""}`,
        { cause: error },
      );
    }
  }
}

/**
 * `true` when what overflowed the header limit is the request line: the bytes read up to the
 * overflow start with a method and a space and hold no line break. Node reports a URL too long as
 * a header overflow; one that reached the server in several reads, the overflow in a later one,
 * stays a 431.
 */
function isRequestLine({ rawPacket, bytesParsed }: ClientError): boolean {
  if (!Buffer.isBuffer(rawPacket) || typeof bytesParsed !== "number") return false;
  const read = rawPacket.subarray(0, bytesParsed);
  return /^[A-Z]{1,16} /.test(read.toString("latin1", 0, 17)) && !read.includes(0x0a);
}

/** A whole HTTP/1.1 response carrying `error`'s public form, written straight to a socket. */
function rawErrorResponse(error: HttpError, requestId: string): string {
  // The same body as every other refusal's (http-errors.ts): troupe's error and fal's `detail`.
  const wire = publicError(error, requestId);
  const body = JSON.stringify({ error: wire, detail: wire.message });
  return [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? "Error"}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    `${SseHeader.requestId}: ${requestId}`,
    `${SseHeader.falRequestId}: ${requestId}`,
    "connection: close",
    "",
    body,
  ].join("\r\n");
}

/**
 * fastify's `frameworkErrors`: the router's refusals (a path that is not valid percent-encoding,
 * a path parameter longer than {@link MAX_PARAM_LENGTH}) as troupe's error body. fastify's
 * hooks do not run for them, so the request id headers are set, and the request recorded, here.
 */
export function frameworkErrorHandler(
  context: ServerContext,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => {
    const refusal =
      error.code === "FST_ERR_MAX_PARAM_LENGTH"
        ? new UrlTooLongError(
            `A segment of the URL's path is longer than the server accepts (${MAX_PARAM_LENGTH} characters)`,
            { cause: error },
          )
        : error.code === "FST_ERR_BAD_URL"
          ? new BadRequestError("The URL's path is not valid percent-encoding", { cause: error })
          : error;
    reply.header(SseHeader.requestId, request.id);
    reply.header(SseHeader.falRequestId, request.id);
    const failure = httpFailure(refusal);
    sendError(reply, request.id, failure);
    recordRequest(context.metrics, request.log, {
      method: request.method,
      url: request.url,
      route: "unmatched",
      status: failure.status,
      ms: reply.elapsedTime,
      failure: refusal,
    });
  };
}
