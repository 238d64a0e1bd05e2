import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { App, endpoint, type ServerHandle, StreamingResponse } from "../../src/app/index.ts";
import { InvalidArgumentError } from "../../src/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import SeedApp from "../fixtures/app/seed-app.ts";
import { postJson, recordingPino, serveForTest } from "./helpers.ts";

describe("an app's description of itself", () => {
  let server: ServerHandle;
  const { logger, lines, raw } = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { logger });
  });
  afterAll(() => server.close());

  it("lists every endpoint in /openapi.json with its input schema and whether it streams", async () => {
    const response = await fetch(`${server.url}/openapi.json`);
    expect(response.status).toBe(200);
    const doc = await response.json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("ScenarioApp");
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/",
        "/hold",
        "/items",
        "/objects",
        "/stream",
        "/strict",
        "/text",
        "/waits",
        "/wrapped",
      ].sort(),
    );
    const stream = doc.paths["/stream"].post;
    expect(stream["x-troupe-streaming"]).toBe(true); // declared with `streaming: true`
    expect(stream.summary).toBe("A scenario, streamed");
    expect(Object.keys(stream.responses["200"].content)).toEqual(["text/event-stream"]);
    const strict = doc.paths["/strict"].post;
    expect(strict["x-troupe-streaming"]).toBe(false);
    expect(Object.keys(strict.responses["200"].content)).toEqual(["application/json"]);
    const schema = strict.requestBody.content["application/json"].schema;
    expect(schema.type).toBe("object");
    expect(schema.required).toEqual(["prompt"]);
    expect(schema.properties.steps).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 200,
      default: 20,
    });
    expect(doc.paths["/"].post["x-troupe-streaming"]).toBe(false);
  });

  it("serves the playground page at GET /", async () => {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/^<!doctype html>/i);
  });

  it("reports each of the app's runners with its ranks on /health", async () => {
    const response = await fetch(`${server.url}/health`);
    expect(response.status).toBe(200);
    const health = await response.json();
    expect(health.status).toBe("ready");
    expect(health.runners).toHaveLength(2);
    expect(health.runners[1]).toMatchObject({ name: "holder", state: "ready", worldSize: 1 });
    expect(health.runners[0]).toMatchObject({
      name: "runner",
      state: "ready",
      worldSize: 2,
      queueLength: 0,
    });
    expect(health.runners[0].ranks.map((r: { state: string }) => r.state)).toEqual([
      "ready",
      "ready",
    ]);
  });

  it("exposes Prometheus metrics for requests, streams, events, the queue and the ranks", async () => {
    const stream = await postJson(server, "/stream", { op: "burst", count: 2 });
    await stream.text();
    const response = await fetch(`${server.url}/metrics`);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(
      /troupe_http_requests_total\{method="POST",route="\/stream",status="200",outcome="ok",code=""\} [1-9]/,
    );
    expect(text).toMatch(/troupe_stream_events_sent_total\{route="\/stream"\} [4-9]/);
    expect(text).toMatch(
      /troupe_stream_time_to_first_event_seconds_count\{route="\/stream"\} [1-9]/,
    );
    expect(text).toMatch(/troupe_http_request_duration_seconds_count/);
    expect(text).toMatch(/troupe_runner_queue_length 0/);
    expect(text).toMatch(/troupe_ranks_alive 3/);
    expect(text).toMatch(/troupe_stream_connections_open 0/);
  });

  it("logs each request once with its id, and each stream when it ends", async () => {
    const response = await fetch(`${server.url}/health`, { headers: { "x-request-id": "log-me" } });
    await response.text();
    const stream = await postJson(
      server,
      "/stream",
      { op: "burst", count: 0 },
      { "x-request-id": "log-stream" },
    );
    await stream.text();
    // The server chose the ids; the ones the client sent are logged beside them.
    expect(lines.filter((l) => l.clientRequestId === "log-me")).toEqual([
      expect.objectContaining({ msg: "request completed", status: 200, url: "/health", level: 30 }),
    ]);
    expect(lines.filter((l) => l.clientRequestId === "log-stream")).toEqual([
      expect.objectContaining({ msg: "request completed", url: "/stream", outcome: "ok" }),
    ]);
    // No line names a key twice (a request id bound by fastify and added again, say).
    for (const line of raw.filter((r) => r.includes("log-"))) {
      expect(line.match(/"reqId":/g)).toHaveLength(1);
    }
  });

  it("logs a stream that fails once, at error level, with its code and request id and no cause text", async () => {
    const stream = await postJson(
      server,
      "/stream",
      { op: "throw", rank: 1, message: "boom" },
      { "x-request-id": "log-failure" },
    );
    await stream.text().catch(() => {});
    const failed = lines.filter((l) => l.clientRequestId === "log-failure");
    expect(failed).toEqual([
      expect.objectContaining({
        msg: "request failed",
        level: 50,
        code: "CALL_FAILED",
        rank: 1,
        outcome: "failed",
        status: 200,
      }),
    ]);
    const err = failed[0]?.err as { message: string; stack: string };
    // The message once, the stack of the rank's own error; no "caused by" chain.
    expect(err.message).toBe("Rank 1 failed: boom");
    expect(JSON.stringify(failed[0])).not.toMatch(/caused by/i);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /troupe_http_requests_total\{method="POST",route="\/stream",status="200",outcome="failed",code="CALL_FAILED"\} [1-9]/,
    );
  });

  it("logs a 4xx at info as rejected, and counts it by its code", async () => {
    const response = await postJson(server, "/strict", {}, { "x-request-id": "log-rejected" });
    expect(response.status).toBe(422);
    await response.text();
    expect(lines.filter((l) => l.clientRequestId === "log-rejected")).toEqual([
      expect.objectContaining({ level: 30, outcome: "rejected", code: "VALIDATION_FAILED" }),
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /troupe_http_requests_total\{method="POST",route="\/strict",status="422",outcome="rejected",code="VALIDATION_FAILED"\} 1/,
    );
  });
});

describe("@endpoint", () => {
  it("rejects a path that is not absolute or is reserved", () => {
    const input = z.object({});
    expect(() => endpoint("stream", { input })).toThrow(InvalidArgumentError);
    expect(() => endpoint("/a/:id", { input })).toThrow(/no parameters/);
    expect(() => endpoint("/requests/x", { input })).toThrow(/reserved/);
    expect(() => endpoint("/x", { input: {} as z.ZodType })).toThrow(/zod schema/);
  });

  it("registers an endpoint per instance, a subclass's override taking its place", async () => {
    const input = z.object({ n: z.number() });
    class Base extends App {
      @endpoint("/double", { input })
      async double(request: z.infer<typeof input>) {
        return request.n * 2;
      }
    }
    class Derived extends Base {
      @endpoint("/double", { input, streaming: true })
      override async double(request: z.infer<typeof input>) {
        return request.n * 3;
      }
      @endpoint("/count", { input, streaming: true })
      async count(request: z.infer<typeof input>) {
        return new StreamingResponse(
          (async function* () {
            for (let i = 0; i < request.n; i++) yield i;
          })(),
        );
      }
    }
    await using server = await serveForTest(Derived);
    expect(await (await postJson(server, "/double", { n: 2 })).json()).toBe(6);
    expect(await (await postJson(server, "/count", { n: 2 })).text()).toBe(
      "data: 0\n\ndata: 1\n\n",
    );
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(doc.paths["/double"].post["x-troupe-streaming"]).toBe(true);
  });

  it("makes serve() reject two endpoints on one path", async () => {
    const input = z.object({});
    class Twice extends App {
      @endpoint("/a", { input })
      async one() {}
      @endpoint("/a", { input })
      async two() {}
    }
    await expect(serveForTest(Twice)).rejects.toThrow(/share the path \/a/);
  });
});

describe("an app's life", () => {
  it("runs setup() before listening and teardown() (stopping its runners) on close", async () => {
    const server = await serveForTest(SeedApp);
    const app = server.app as SeedApp;
    expect(app.runner.state).toBe("ready");
    await server.close();
    expect(app.runner.state).toBe("stopped");
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });

  it("stops the app's runners on close even when its teardown() forgets to", async () => {
    class Forgetful extends SeedApp {
      override async teardown() {}
    }
    const server = await serveForTest(Forgetful);
    const app = server.app as Forgetful;
    await server.close();
    expect(app.runner.state).toBe("stopped");
  });

  it("rejects serve() with setup()'s error and runs teardown()", async () => {
    let tornDown = false;
    class Broken extends App {
      override async setup() {
        throw new Error("no model");
      }
      override async teardown() {
        tornDown = true;
      }
    }
    await expect(serveForTest(Broken)).rejects.toThrow("no model");
    expect(tornDown).toBe(true);
  });

  it("validates its options, naming the bad value", async () => {
    await expect(serveForTest(App, { port: -1 })).rejects.toThrow(
      "Expected `port` to be an integer 0-65535, got -1",
    );
    await expect(serveForTest(App, { bodyLimit: 0 })).rejects.toThrow(
      "Expected `bodyLimit` to be a positive integer, got 0",
    );
  });
});
