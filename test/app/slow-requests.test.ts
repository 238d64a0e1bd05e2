/**
 * Slow clients cannot hold the server: a request whose headers or body do not arrive within
 * `requestTimeout` gets 408 RECEIVE_TIMEOUT and its connection is closed, before any endpoint sees
 * it; a response, once the request is in, streams for as long as it needs. Every wait is for an
 * event (a socket's close, a response's bytes); the clients trickle bytes as an attacker would.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { App, endpoint, type ServerHandle, StreamingResponse } from "../../src/app/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { parseHead, RawExchange, recordingPino, serveForTest } from "./helpers.ts";

// Long enough that a request sent whole is parsed before it, however loaded the machine: Node counts
// from the connection's accept.
const REQUEST_TIMEOUT = 1000;

class SlowApp extends App {
  /** Bodies the endpoints received: none of a timed-out request may arrive. */
  readonly received: unknown[] = [];
  /** Ends `/stream`'s generator. */
  readonly release = deferred();

  @endpoint("/echo", { input: z.looseObject({}) })
  async echo(input: object) {
    this.received.push(input);
    return input;
  }

  @endpoint("/stream", { input: z.object({}), streaming: true })
  async stream(input: object) {
    this.received.push(input);
    const release = this.release.promise;
    return new StreamingResponse(
      (async function* () {
        yield { first: true };
        await release;
        yield { last: true };
      })(),
    );
  }
}

/**
 * A client that sends `head` and then one byte of `trickle` every 20 ms for as long as the
 * connection is open; `closed` resolves with every byte the server sent.
 */
function trickler(
  server: ServerHandle,
  head: string,
  trickle = "x".repeat(1000),
): { socket: Socket; closed: Promise<string> } {
  const socket = connect(server.port, "127.0.0.1");
  const chunks: Buffer[] = [];
  let at = 0;
  let timer: NodeJS.Timeout | undefined;
  socket.on("connect", () => {
    socket.write(head);
    timer = setInterval(() => {
      if (at < trickle.length && socket.writable) socket.write(trickle[at++] ?? "");
    }, 20);
  });
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  const closed = new Promise<string>((resolve) =>
    socket.on("close", () => {
      clearInterval(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    }),
  );
  return { socket, closed };
}

function postHead(server: ServerHandle, path: string, length: number, extra = ""): string {
  return `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra}\r\n`;
}

function errorOf(text: string): Record<string, unknown> {
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  return (JSON.parse(body) as { error: Record<string, unknown> }).error;
}

describe("a request that does not arrive within requestTimeout", () => {
  let server: ServerHandle;
  let app: SlowApp;
  const log = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(SlowApp, { requestTimeout: REQUEST_TIMEOUT, logger: log.logger });
    app = server.app as SlowApp;
  });
  afterAll(() => server.close());

  it("gets 408 RECEIVE_TIMEOUT with troupe's error body when its body trickles, and never reaches the endpoint", async () => {
    const { closed } = trickler(server, `${postHead(server, "/echo", 1000)}{"a":"`);
    const text = await closed;
    const head = parseHead(text);
    expect(head.status).toBe(408);
    expect(head.headers.connection).toBe("close");
    expect(head.headers["content-type"]).toMatch(/^application\/json/);
    const error = errorOf(text);
    expect(error).toEqual({
      name: "ReceiveTimeoutError",
      code: "RECEIVE_TIMEOUT",
      message: expect.stringContaining(`${REQUEST_TIMEOUT} ms`),
      requestId: head.headers["x-request-id"],
    });
    expect(head.headers["x-fal-request-id"]).toBe(head.headers["x-request-id"]);
    expect(app.received).toEqual([]);
    // One line for it, under the id the client got.
    const lines = log.lines.filter((l) => l.reqId === head.headers["x-request-id"]);
    expect(lines).toEqual([
      expect.objectContaining({ status: 408, outcome: "rejected", code: "RECEIVE_TIMEOUT" }),
    ]);
  });

  it("gets 408 when its headers never end", async () => {
    const { closed } = trickler(
      server,
      `GET /health HTTP/1.1\r\nhost: 127.0.0.1:${server.port}\r\nx-slow: `,
    );
    const text = await closed;
    expect(parseHead(text).status).toBe(408);
    expect(errorOf(text)).toMatchObject({
      code: "RECEIVE_TIMEOUT",
      requestId: parseHead(text).headers["x-request-id"],
    });
  });

  it("closes a connection that never sends a byte", async () => {
    const socket = connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    await new Promise((resolve) => socket.on("close", resolve));
    expect(parseHead(Buffer.concat(chunks).toString()).status).toBe(408);
  });

  it("closes all of 50 trickling connections: the server holds none of them", async () => {
    // The server's side of each connection, as Node accepts it.
    const accepted: Socket[] = [];
    const onSocket = (message: unknown) => {
      const { socket } = message as { socket: Socket };
      if (socket.localPort === server.port) accepted.push(socket);
    };
    subscribe("net.server.socket", onSocket);
    const clients = Array.from({ length: 50 }, (_, i) =>
      trickler(server, `${postHead(server, "/echo", 1000)}{"n":${i},"pad":"`),
    );
    try {
      const texts = await Promise.all(clients.map((c) => c.closed));
      for (const text of texts) expect(parseHead(text).status).toBe(408);
    } finally {
      unsubscribe("net.server.socket", onSocket);
    }
    expect(accepted).toHaveLength(50);
    await Promise.all(
      accepted.map((s) =>
        s.closed ? undefined : new Promise((resolve) => s.once("close", resolve)),
      ),
    );
    for (const s of accepted) expect(s.destroyed).toBe(true);
    expect(app.received).toEqual([]);
  });

  it("does not cut a response short: a stream outlives requestTimeout", async () => {
    const stream = await RawExchange.post(server, "/stream", {});
    await stream.untilEvents(1);
    // A slow request started after the stream: its 408 says requestTimeout has passed for the
    // stream's connection too.
    const slow = trickler(server, `${postHead(server, "/echo", 1000)}{"late":"`);
    expect(parseHead(await slow.closed).status).toBe(408);
    app.release.resolve();
    await stream.ended;
    expect(parseHead(stream.text).status).toBe(200);
    expect(stream.events.map((e) => JSON.parse(e.data))).toEqual([{ first: true }, { last: true }]);
    expect(stream.complete).toBe(true);
  });

  it("answers a request that arrives in time", async () => {
    const exchange = await RawExchange.post(server, "/echo", { quick: true });
    await exchange.ended;
    expect(parseHead(exchange.text).status).toBe(200);
    expect(exchange.body).toBe('{"quick":true}');
  });
});
