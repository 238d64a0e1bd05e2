/**
 * The refusals that come from Node's HTTP parser or fastify's router, before any route runs, are
 * answered with troupe's error body like every other refusal: a code, a message, the request id
 * (also in `x-request-id`), and `connection: close` where Node gives up on the connection. The
 * requests are raw bytes over a socket, since no HTTP client sends them.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { App, endpoint, type ServerHandle } from "../../src/app/index.ts";
import { parseHead, recordingPino, serveForTest } from "./helpers.ts";

class PlainApp extends App {
  @endpoint("/echo", { input: z.looseObject({}) })
  async echo(input: object) {
    return input;
  }
}

/** Sends `bytes` as they are and resolves with everything the server sent until it closed. */
function exchange(server: ServerHandle, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1", () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** The response's status and error, checked to be troupe's body with the id of its header. */
function refusal(text: string): { status: number; error: Record<string, unknown> } {
  const head = parseHead(text);
  expect(head.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as {
    error: Record<string, unknown>;
    detail: unknown;
  };
  // troupe's error, and fal's `detail` (its message) beside it.
  expect(Object.keys(body)).toEqual(["error", "detail"]);
  expect(body.detail).toBe(body.error.message);
  const id = head.headers["x-request-id"];
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  expect(head.headers["x-fal-request-id"]).toBe(id);
  expect(body.error.requestId).toBe(id);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "name", "requestId"]);
  return { status: head.status, error: body.error };
}

describe("refusals before any route", () => {
  let server: ServerHandle;
  const log = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(PlainApp, { logger: log.logger });
  });
  afterAll(() => server.close());

  const host = () => `host: 127.0.0.1:${server.port}\r\n`;

  it("answers a malformed request line with 400 BAD_REQUEST and closes the connection", async () => {
    const text = await exchange(server, `GET /hea lth HTTP/1.1\r\n${host()}\r\n`);
    const { status, error } = refusal(text);
    expect(status).toBe(400);
    expect(error).toMatchObject({ name: "BadRequestError", code: "BAD_REQUEST" });
    expect(parseHead(text).headers.connection).toBe("close");
  });

  it("answers a malformed header with 400 BAD_REQUEST", async () => {
    const text = await exchange(server, `GET /health HTTP/1.1\r\n${host()}bad header: x\r\n\r\n`);
    expect(refusal(text)).toMatchObject({ status: 400, error: { code: "BAD_REQUEST" } });
  });

  it("answers a path that is not valid percent-encoding with 400 BAD_REQUEST", async () => {
    const text = await exchange(
      server,
      `DELETE /requests/%zz HTTP/1.1\r\n${host()}connection: close\r\n\r\n`,
    );
    const { status, error } = refusal(text);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/percent/) });
  });

  it("answers a path parameter over 100 characters with 414 URL_TOO_LONG, and takes one of 100", async () => {
    const long = await exchange(
      server,
      `DELETE /requests/${"a".repeat(101)} HTTP/1.1\r\n${host()}connection: close\r\n\r\n`,
    );
    const { status, error } = refusal(long);
    expect(status).toBe(414);
    expect(error).toMatchObject({ code: "URL_TOO_LONG", message: expect.stringContaining("100") });
    const fits = await exchange(
      server,
      `DELETE /requests/${"a".repeat(100)} HTTP/1.1\r\n${host()}connection: close\r\n\r\n`,
    );
    expect(refusal(fits)).toMatchObject({ status: 404, error: { code: "REQUEST_NOT_FOUND" } });
  });

  it("answers a URL longer than Node's header limit with 414 URL_TOO_LONG", async () => {
    const text = await exchange(
      server,
      `GET /health?x=${"a".repeat(20_000)} HTTP/1.1\r\n${host()}\r\n`,
    );
    const { status, error } = refusal(text);
    expect(status).toBe(414);
    expect(error).toMatchObject({ name: "UrlTooLongError", code: "URL_TOO_LONG" });
    expect(parseHead(text).headers.connection).toBe("close");
  });

  it("answers headers larger than Node's limit with 431 HEADERS_TOO_LARGE", async () => {
    const one = await exchange(
      server,
      `GET /health HTTP/1.1\r\n${host()}x-big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expect(refusal(one)).toMatchObject({ status: 431, error: { code: "HEADERS_TOO_LARGE" } });
    const many = Array.from({ length: 400 }, (_, i) => `x-h${i}: ${"b".repeat(50)}\r\n`).join("");
    const all = await exchange(server, `GET /health HTTP/1.1\r\n${host()}${many}\r\n`);
    expect(refusal(all)).toMatchObject({ status: 431, error: { code: "HEADERS_TOO_LARGE" } });
  });

  it("logs each refusal once, under the id the client got, and counts it", async () => {
    const text = await exchange(
      server,
      `DELETE /requests/${"b".repeat(150)} HTTP/1.1\r\n${host()}connection: close\r\n\r\n`,
    );
    const id = parseHead(text).headers["x-request-id"];
    expect(log.lines.filter((l) => l.reqId === id)).toEqual([
      expect.objectContaining({ status: 414, outcome: "rejected", code: "URL_TOO_LONG" }),
    ]);
    const garbage = await exchange(server, "\u0001\u0002 nonsense\r\n\r\n");
    const garbageId = parseHead(garbage).headers["x-request-id"];
    expect(log.lines.filter((l) => l.reqId === garbageId)).toEqual([
      expect.objectContaining({ status: 400, outcome: "rejected", code: "BAD_REQUEST" }),
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /troupe_http_requests_total\{[^}]*status="414"[^}]*code="URL_TOO_LONG"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(
      /troupe_http_requests_total\{[^}]*status="431"[^}]*code="HEADERS_TOO_LARGE"[^}]*\} [1-9]/,
    );
  });

  it("stays up and answers the next request", async () => {
    const response = await fetch(`${server.url}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"still":"here"}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ still: "here" });
  });
});
