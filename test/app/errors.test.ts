import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { parseHead, postJson, RawExchange, serveForTest } from "./helpers.ts";

async function errorOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as { error: Record<string, unknown> };
  expect(body.error.requestId).toBe(response.headers.get("x-request-id"));
  expect(typeof body.error.message).toBe("string");
  return body.error;
}

describe("errors outside the stream", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { bodyLimit: 1024 });
  });
  afterAll(() => server.close());

  const post = (path: string, body: string | undefined, headers: Record<string, string>) =>
    fetch(`${server.url}${path}`, { method: "POST", headers, body });

  it("answers malformed JSON with 400 INVALID_JSON", async () => {
    const response = await post("/strict", '{"prompt": ', { "content-type": "application/json" });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("INVALID_JSON");
  });

  it("answers an empty JSON body as no body: 422 VALIDATION_FAILED from the schema", async () => {
    const response = await post("/strict", "", { "content-type": "application/json" });
    expect(response.status).toBe(422);
    expect((await errorOf(response)).code).toBe("VALIDATION_FAILED");
  });

  it("answers a schema violation with 422 listing each field path and problem", async () => {
    const response = await postJson(server, "/strict", {
      prompt: "",
      steps: 500,
      size: { width: "wide", height: 1.5 },
    });
    expect(response.status).toBe(422);
    const error = await errorOf(response);
    expect(error.code).toBe("VALIDATION_FAILED");
    const issues = error.issues as { path: string; message: string }[];
    expect(issues.map((i) => i.path).sort()).toEqual([
      "prompt",
      "size.height",
      "size.width",
      "steps",
    ]);
    for (const issue of issues) expect(issue.message).not.toBe("");
  });

  it("answers a body that is not an object with 422 at the root", async () => {
    const response = await postJson(server, "/strict", [1, 2]);
    expect(response.status).toBe(422);
    expect((await errorOf(response)).issues).toEqual([{ path: "", message: expect.any(String) }]);
  });

  it("answers a body over the limit with 413 BODY_TOO_LARGE", async () => {
    const response = await postJson(server, "/strict", { prompt: "x".repeat(2000) });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe("BODY_TOO_LARGE");
  });

  it("answers another content type with 415 UNSUPPORTED_MEDIA_TYPE", async () => {
    const response = await post("/strict", "prompt=x", {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(response.status).toBe(415);
    expect((await errorOf(response)).code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers a body without a content type with 415", async () => {
    const exchange = await RawExchange.open(server, "POST", "/strict", { body: '{"prompt":"x"}' });
    await exchange.until((text) => /"detail":"[^"]*"}$/.test(text));
    expect(parseHead(exchange.text).status).toBe(415);
    exchange.socket.destroy();
  });

  it("answers an unknown path with 404 NOT_FOUND", async () => {
    const response = await postJson(server, "/nope", {});
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("NOT_FOUND");
  });

  it("answers a wrong method with 405 METHOD_NOT_ALLOWED and Allow", async () => {
    const put = await fetch(`${server.url}/health`, { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD");
    expect((await errorOf(put)).code).toBe("METHOD_NOT_ALLOWED");
    const get = await fetch(`${server.url}/strict`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    const del = await fetch(`${server.url}/stream`, { method: "DELETE" });
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("POST");
    const cancel = await fetch(`${server.url}/requests/abc`, { method: "POST" });
    expect(cancel.status).toBe(405);
    expect(cancel.headers.get("allow")).toBe("DELETE");
  });

  it("answers a worker's failure in a non-streaming endpoint with 500 and the code a stream gives it", async () => {
    const response = await postJson(server, "/", { op: "throw", rank: 1, message: "boom" });
    expect(response.status).toBe(500);
    const error = await errorOf(response);
    expect(error).toEqual({
      name: "WorkerCallError",
      code: "CALL_FAILED",
      message: "Rank 1 failed: boom",
      rank: 1,
      requestId: response.headers.get("x-request-id"),
    });
    const stream = await RawExchange.post(server, "/stream", {
      op: "throw",
      rank: 1,
      message: "boom",
    });
    await stream.ended;
    const event = JSON.parse(stream.events[0]?.data ?? "{}");
    expect(event.error.code).toBe(error.code);
    expect(event.error.message).toBe(error.message);
  });

  it("answers a schema violation with FastAPI's detail beside its own issues, as fal's clients read it", async () => {
    const response = await postJson(server, "/strict", { prompt: "", size: { width: "wide" } });
    expect(response.status).toBe(422);
    const body = (await response.json()) as {
      detail: { loc: unknown[]; msg: string; type: string }[];
    };
    expect(body.detail).toEqual(
      expect.arrayContaining([
        { loc: ["body", "prompt"], msg: expect.any(String), type: "too_small" },
        { loc: ["body", "size", "width"], msg: expect.any(String), type: "invalid_type" },
      ]),
    );
    expect(body.detail).toHaveLength(3);
  });

  it("answers a troupe-dialect header that names no dialect with 400 UNKNOWN_DIALECT", async () => {
    const response = await postJson(
      server,
      "/stream",
      { op: "burst", count: 1 },
      {
        "troupe-dialect": "2",
      },
    );
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe("UNKNOWN_DIALECT");
    expect(error.message).toContain('"2"');
  });

  it("answers a resume that asks for fal's dialect with 400 UNKNOWN_DIALECT", async () => {
    const response = await fetch(`${server.url}/stream?requestId=abc`, {
      headers: { "troupe-dialect": "fal" },
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("UNKNOWN_DIALECT");
  });

  it("puts x-fal-request-id beside x-request-id on every response", async () => {
    for (const response of [
      await fetch(`${server.url}/health`, { headers: { "x-request-id": "both-ids" } }),
      await postJson(server, "/strict", {}, { "x-request-id": "both-ids" }),
      await fetch(`${server.url}/nope`, { headers: { "x-request-id": "both-ids" } }),
    ]) {
      await response.arrayBuffer();
      expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get("x-fal-request-id")).toBe(response.headers.get("x-request-id"));
    }
  });

  it("chooses every request's id itself, whatever x-request-id came in", async () => {
    const sane = await fetch(`${server.url}/health`, { headers: { "x-request-id": "abc-123" } });
    expect(sane.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const insane = await fetch(`${server.url}/health`, {
      headers: { "x-request-id": `<script>${"x".repeat(200)}` },
    });
    expect(insane.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("survives hostile input and stays ready", async () => {
    const bodies = [
      '{"__proto__":{"polluted":true},"prompt":"x"}',
      '{"constructor":{"prototype":{"polluted":true}},"op":"echo","value":1}',
      "[".repeat(500) + "]".repeat(500),
      '{"op":"echo","value":"\\ud800"}',
      "\u0000\u0001",
      "null",
      '"just a string"',
    ];
    for (const body of bodies) {
      for (const path of ["/strict", "/", "/stream"]) {
        const response = await post(path, body, { "content-type": "application/json" });
        expect([200, 400, 413, 422]).toContain(response.status);
        await response.arrayBuffer();
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    const echo = await postJson(server, "/", { op: "echo", value: "still here" });
    expect(await echo.json()).toBe("still here");
  });
});

describe("a server whose runner is down", () => {
  it("answers 503 UNAVAILABLE and reports the failure on /health", async () => {
    const server = await serveForTest(ScenarioApp);
    try {
      const app = server.app as ScenarioApp;
      await app.runner.stop();
      const response = await postJson(server, "/stream", { op: "echo", value: 1 });
      expect(response.status).toBe(503);
      expect((await errorOf(response)).code).toBe("UNAVAILABLE");
      const invoke = await postJson(server, "/", { op: "echo", value: 1 });
      expect(invoke.status).toBe(503);
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(503);
      expect((await health.json()).status).toBe("failed");
    } finally {
      await server.close();
    }
  });
});
