import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { serve } from "../../src/app/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { parseHead, RawExchange, serveForTest } from "./helpers.ts";

const ORIGIN = "http://page.example";

function preflight(server: ServerHandle, origin: string): Promise<Response> {
  return fetch(`${server.url}/items`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, troupe-dialect",
    },
  });
}

describe("CORS, on by default for any origin", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp);
  });
  afterAll(() => server.close());

  it("answers a preflight with 204 and the methods and headers a troupe client sends", async () => {
    const response = await preflight(server, ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-methods")).toContain("DELETE");
    expect(response.headers.get("access-control-allow-headers")).toContain("troupe-dialect");
    expect(response.headers.get("access-control-allow-headers")).toContain("last-event-id");
  });

  it("puts the headers on JSON responses, and on the SSE head written after the hijack", async () => {
    const health = await fetch(`${server.url}/health`, { headers: { origin: ORIGIN } });
    expect(health.headers.get("access-control-allow-origin")).toBe("*");
    expect(health.headers.get("access-control-expose-headers")).toBe(
      "x-request-id, x-fal-request-id, troupe-dialect",
    );

    const exchange = await RawExchange.post(server, "/items", { count: 1 }, { origin: ORIGIN });
    const text = await exchange.ended;
    const { status, headers } = parseHead(text);
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
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { cors: { origin: [ORIGIN] } });
  });
  afterAll(() => server.close());

  it("echoes an allowed origin, with Vary: origin", async () => {
    const response = await preflight(server, ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(response.headers.get("vary")).toContain("origin");
  });

  it("gives any other origin no allow header, so the browser blocks it", async () => {
    const response = await preflight(server, "http://elsewhere.example");
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
    expect(response.headers.get("access-control-allow-methods")).toBeNull();
  });
});

describe("cors: false", () => {
  it("sends no CORS headers, and a preflight gets the 405 of an unknown method", async () => {
    const server = await serveForTest(ScenarioApp, { cors: false });
    try {
      const response = await preflight(server, ORIGIN);
      expect(response.status).toBe(405);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await server.close();
    }
  });

  it("rejects a malformed cors option, naming it", async () => {
    await expect(serve(ScenarioApp, { port: 0, cors: { origin: [] } })).rejects.toThrow(
      "Expected `cors` to be a boolean or { origin: string | string[] }",
    );
  });
});
