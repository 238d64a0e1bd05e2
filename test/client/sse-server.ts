import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";

/** One request the test server received, held open for the test to answer byte by byte. */
export interface Exchange {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  readonly res: ServerResponse;
  /** Sends status and headers of an event stream (with `x-request-id` when given). */
  open(requestId?: string, headers?: Record<string, string>): Promise<void>;
  /** Writes raw bytes; resolves once they are handed to the socket. */
  write(bytes: string | Uint8Array): Promise<void>;
  /** Answers at once with `status` and a JSON body. */
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  end(): void;
  /** Drops the connection without ending the response properly. */
  drop(): void;
}

export interface SseServer {
  readonly url: string;
  /** The next request, in arrival order. */
  next(): Promise<Exchange>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A real HTTP server on port 0 whose every answer the test writes itself, so the client under
 * test sees exact protocol bytes, split wherever the test splits them.
 */
export async function sseServer(): Promise<SseServer> {
  const arrived: Exchange[] = [];
  const waiting: Deferred<Exchange>[] = [];
  const server = createServer({ noDelay: true, keepAlive: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const exchange = makeExchange(req, res, Buffer.concat(chunks).toString("utf8"));
      const waiter = waiting.shift();
      if (waiter === undefined) arrived.push(exchange);
      else waiter.resolve(exchange);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    next: () => {
      const ready = arrived.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      const waiter = deferred<Exchange>();
      waiting.push(waiter);
      return waiter.promise;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function makeExchange(req: IncomingMessage, res: ServerResponse, body: string): Exchange {
  return {
    method: req.method ?? "",
    url: req.url ?? "",
    headers: req.headers,
    body,
    res,
    open: async (requestId, headers = {}) => {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        ...(requestId === undefined ? {} : { "x-request-id": requestId }),
        ...headers,
      });
      res.flushHeaders();
    },
    write: (bytes) =>
      new Promise<void>((resolve, reject) =>
        res.write(bytes, (error) => (error ? reject(error) : resolve())),
      ),
    json: (status, value, headers = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(value));
    },
    end: () => res.end(),
    drop: () => res.destroy(),
  };
}

/** Dialect-2 event bytes. */
export function event(name: string, data: unknown, id?: number): string {
  return `event: ${name}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}
