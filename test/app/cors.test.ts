import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { serve } from "../../src/app/index.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { parseHead, RawExchange, recordingPino, serveForTest } from "./helpers.ts";

const ORIGIN = "http://page.example";

function preflight(server: ServerHandle, origin: string): Promise<Response> {
  return fetch(`${server.url}/stream`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, troupe-dialect",
    },
  });
}

describe("CORS by default: off", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(CounterApp);
  });
  afterAll(() => server.close());

  it("sends no CORS headers to a page on another origin, and leaves its preflight unanswered", async () => {
    const response = await preflight(server, ORIGIN);
    expect(response.status).toBe(405);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-allow-methods")).toBeNull();

    const exchange = await RawExchange.post(server, "/stream", { steps: 1 }, { origin: ORIGIN });
    const { status, headers } = parseHead(await exchange.ended);
    expect(status).toBe(200);
    expect(headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses a cross-origin 'simple' POST (text/plain, no preflight) before any handler runs", async () => {
    const before = (server.app as CounterApp).calls;
    const response = await fetch(`${server.url}/stream`, {
      method: "POST",
      headers: { origin: ORIGIN, "content-type": "text/plain" },
      body: JSON.stringify({ steps: 1 }),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect((server.app as CounterApp).calls).toBe(before);
  });
});

describe("cors: true, any origin", () => {
  let server: ServerHandle;
  const log = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(CounterApp, { cors: true, logger: log.logger });
  });
  afterAll(() => server.close());

  it("is logged as a warning when the server starts", () => {
    const warnings = log.lines.filter((line) => line.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain("cors: true lets a page on any origin call this server");
  });

  it("answers a preflight with 204 and the methods and headers a troupe client sends", async () => {
    const response = await preflight(server, ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-methods")).toContain("DELETE");
    const allowed = response.headers.get("access-control-allow-headers");
    expect(allowed).toContain("troupe-dialect");
    expect(allowed).toContain("last-event-id");
    expect(allowed).toContain("authorization");
  });

  it("puts the headers on JSON responses, and on the SSE head written after the hijack", async () => {
    const health = await fetch(`${server.url}/health`, { headers: { origin: ORIGIN } });
    expect(health.headers.get("access-control-allow-origin")).toBe("*");
    const exposed = health.headers.get("access-control-expose-headers")?.split(", ");
    expect(exposed).toEqual(
      expect.arrayContaining(["x-request-id", "x-fal-request-id", "troupe-dialect"]),
    );

    const exchange = await RawExchange.post(server, "/stream", { steps: 1 }, { origin: ORIGIN });
    const { status, headers } = parseHead(await exchange.ended);
    expect(status).toBe(200);
    expect(headers["access-control-allow-origin"]).toBe("*");
  });

  it("sends no CORS headers to a request without an Origin", async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("CORS limited to named origins", () => {
  let server: ServerHandle;
  const log = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(CounterApp, { cors: { origin: [ORIGIN] }, logger: log.logger });
  });
  afterAll(() => server.close());

  it("echoes an allowed origin, with Vary: origin, and warns of nothing", async () => {
    const response = await preflight(server, ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(response.headers.get("vary")).toContain("origin");
    expect(log.lines.filter((line) => line.level === 40)).toEqual([]);
  });

  it("gives any other origin no allow header, so the browser blocks it", async () => {
    const response = await preflight(server, "http://elsewhere.example");
    expect(response.status).toBe(405);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-allow-methods")).toBeNull();
  });
});

describe("cors option", () => {
  it("rejects a malformed cors option, naming it", async () => {
    await expect(serve(CounterApp, { port: 0, cors: { origin: [] } })).rejects.toThrow(
      "Expected `cors` to be a boolean or { origin: string | string[] }",
    );
  });
});
