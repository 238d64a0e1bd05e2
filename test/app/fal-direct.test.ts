import { ApiError, type FalClient, ValidationError } from "@fal-ai/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { falClientFor, falClientThroughProxy } from "../../docs/snippets/fal-client.ts";
import { FAL_PROXY_PATH, rewriteFalUrl } from "../../src/app/fal-hosts.ts";
import type { ServerHandle } from "../../src/app/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { readStream, settle } from "../consumers/fal-stream-outcome.ts";
import FalDirectApp from "../fixtures/app/fal-direct-app.ts";
import { serveForTest } from "./helpers.ts";
import { sendRequest } from "./http-request.ts";

const APP_ID = "troupe/fal-direct";

/** fal's two ways to a server of one's own, the functions docs/fal-compat.md shows. */
function clientsFor(serverUrl: string, sent: string[]): Record<string, FalClient> {
  const fetchCounting: typeof fetch = async (input, init) => {
    sent.push(`${init?.method ?? "GET"} ${String(input)}`);
    return await fetch(input, init);
  };
  return {
    requestMiddleware: falClientFor(serverUrl, { fetch: fetchCounting }),
    proxyUrl: falClientThroughProxy(serverUrl, { fetch: fetchCounting }),
  };
}

describe("fal's direct routes, called by @fal-ai/client 1.10.1", () => {
  let server: ServerHandle;
  const sent: string[] = [];
  let clients: Record<string, FalClient>;

  beforeAll(async () => {
    server = await serveForTest(FalDirectApp, { appId: APP_ID });
    clients = clientsFor(server.url, sent);
  });
  afterAll(async () => {
    await server.close();
  });

  for (const way of ["requestMiddleware", "proxyUrl"] as const) {
    describe(`pointed at troupe with ${way}`, () => {
      const fal = () => clients[way] as FalClient;

      it("resolves fal.run(appId) with the / endpoint's answer and troupe's request id", async () => {
        const run = await fal().run(APP_ID, { input: { name: "fal" } });
        expect(run.data).toEqual({ greeting: "hello fal" });
        expect(run.requestId).toMatch(/^[0-9a-f-]{36}$/);
      });

      it("streams fal.stream(appId/path) in fal's dialect and resolves done() with the last result", async () => {
        const { items, done } = await readStream(
          await fal().stream(`${APP_ID}/steps`, { input: { steps: 2 } }),
        );
        const steps = [
          { step: 0, progress: 0.5 },
          { step: 1, progress: 1 },
        ];
        expect(items).toEqual(steps);
        expect(done).toEqual({ value: steps[1] });
      });

      it("streams an endpoint that answers JSON as that one result: fal.stream(appId) reaches /", async () => {
        const { items, done } = await readStream(
          await fal().stream(APP_ID, { input: { name: "stream" } }),
        );
        expect(items).toEqual([{ greeting: "hello stream" }]);
        expect(done).toEqual({ value: { greeting: "hello stream" } });
      });

      it("rejects a body that does not match with fal's ValidationError (422), on run and on stream", async () => {
        for (const call of [
          () => fal().run(APP_ID, { input: { name: "" } }),
          async () => (await fal().stream(APP_ID, { input: { name: "" } })).done(),
        ]) {
          const { error } = await settle(call());
          expect(error).toBeInstanceOf(ValidationError);
          const validation = error as ValidationError;
          expect(validation.status).toBe(422);
          expect(validation.fieldErrors).toEqual([
            { loc: ["body", "name"], msg: expect.stringMatching(/\S/), type: "too_small" },
          ]);
        }
      });

      it("answers an app id this server does not serve with a 404 error body", async () => {
        const { error } = await settle(fal().run("someone/else", { input: { name: "x" } }));
        expect(error).toBeInstanceOf(ApiError);
        const api = error as ApiError<{ error: { code: string; message: string } }>;
        expect(api.status).toBe(404);
        expect(api.body.error).toMatchObject({
          code: "NOT_FOUND",
          message: "No route POST /someone/else",
        });
      });

      it("cancels a call past its startTimeout (x-fal-request-timeout): 504, a user timeout fal does not retry, ctx.signal aborted", async () => {
        const app = server.app as FalDirectApp;
        app.cancelled = deferred();
        sent.length = 0;
        const { error } = await settle(
          fal().run(`${APP_ID}/wait`, { input: {}, startTimeout: 1.05 }),
        );
        expect(error).toBeInstanceOf(ApiError);
        const api = error as ApiError<{ error: { code: string } }>;
        expect(api.status).toBe(504);
        expect(api.isUserTimeout).toBe(true);
        expect(api.body.error.code).toBe("REQUEST_TIMEOUT");
        expect(sent).toHaveLength(1);
        expect(await app.cancelled.promise).toMatchObject({ code: "REQUEST_TIMEOUT" });
      });
    });
  }
});

describe("x-fal-request-timeout on the direct routes", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(FalDirectApp, { appId: APP_ID });
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (path: string, headers: Record<string, string>, body: unknown = {}) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });

  it("answers 504 with x-fal-request-timeout-type: user and troupe's error body once the seconds pass", async () => {
    const app = server.app as FalDirectApp;
    app.cancelled = deferred();
    const response = await post(`/${APP_ID}/wait`, { "x-fal-request-timeout": "0.05" });
    expect(response.status).toBe(504);
    expect(response.headers.get("x-fal-request-timeout-type")).toBe("user");
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({
      code: "REQUEST_TIMEOUT",
      message: "The request ran past its x-fal-request-timeout of 0.05 s and was cancelled",
      requestId: response.headers.get("x-fal-request-id"),
    });
    expect(JSON.stringify(body)).not.toContain("stack");
    expect(await app.cancelled.promise).toMatchObject({ code: "REQUEST_TIMEOUT" });
  });

  it("ends a stream under way with a fatal REQUEST_TIMEOUT event, aborting ctx.signal", async () => {
    const app = server.app as FalDirectApp;
    app.cancelled = deferred();
    const response = await post(`/${APP_ID}/wait/stream`, { "x-fal-request-timeout": "0.05" });
    expect(response.status).toBe(200);
    // fal's dialect aborts the response after a fatal error event: the body read fails.
    let text = "";
    const decoder = new TextDecoder();
    const read = settle(
      (async () => {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true });
        }
      })(),
    );
    expect((await read).error).toBeDefined();
    expect(text).toContain('data: {"step":0}\n\n');
    expect(text).toMatch(/event: error\ndata: \{"error":\{[^\n]*"code":"REQUEST_TIMEOUT"/);
    expect(await app.cancelled.promise).toMatchObject({ code: "REQUEST_TIMEOUT" });
  });

  it("refuses a value that is not a positive number of seconds with 400, before calling anything", async () => {
    for (const value of ["soon", "0", "-1"]) {
      const response = await post(`/${APP_ID}`, { "x-fal-request-timeout": value }, { name: "x" });
      expect(response.status, value).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("BAD_REQUEST");
      expect(body.error.message).toBe(
        `Expected x-fal-request-timeout to be a positive number of seconds, got ${JSON.stringify(value)}`,
      );
    }
  });

  it("leaves a call that ends in time alone: its answer, and no timeout header", async () => {
    const response = await post(`/${APP_ID}`, { "x-fal-request-timeout": "30" }, { name: "x" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-fal-request-timeout-type")).toBeNull();
    expect(await response.json()).toEqual({ greeting: "hello x" });
  });
});

describe("fal's proxy convention and hosts", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(FalDirectApp);
  });
  afterAll(async () => {
    await server.close();
  });

  it("serves the app under local/<class name in kebab case> when no appId is given", async () => {
    const response = await fetch(`${server.url}/local/fal-direct-app`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "default" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ greeting: "hello default" });
  });

  it("refuses a proxied target on any host but fal.run and queue.fal.run with 400, reaching no route", async () => {
    const cases: [string | undefined, string][] = [
      [
        "https://example.com/local/fal-direct-app",
        'x-fal-target-url must name a URL on https://fal.run or https://queue.fal.run, got "https://example.com/local/fal-direct-app": this server is not an open proxy',
      ],
      [
        "http://fal.run/local/fal-direct-app",
        'x-fal-target-url must name a URL on https://fal.run or https://queue.fal.run, got "http://fal.run/local/fal-direct-app": this server is not an open proxy',
      ],
      [
        "https://fal.run:8443/local/fal-direct-app",
        'x-fal-target-url must name a URL on https://fal.run or https://queue.fal.run, got "https://fal.run:8443/local/fal-direct-app": this server is not an open proxy',
      ],
      ["not a url", 'Expected x-fal-target-url to be a URL, got "not a url"'],
      [
        `https://fal.run${FAL_PROXY_PATH}`,
        `x-fal-target-url names the proxy itself: "https://fal.run${FAL_PROXY_PATH}"`,
      ],
      [undefined, `A request to ${FAL_PROXY_PATH} needs one x-fal-target-url header`],
    ];
    for (const [target, message] of cases) {
      const response = await fetch(`${server.url}${FAL_PROXY_PATH}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(target === undefined ? {} : { "x-fal-target-url": target }),
        },
        body: JSON.stringify({ name: "x" }),
      });
      expect(response.status, target).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: "BAD_REQUEST", message });
    }
  });

  it("refuses, through fal's own client, a fal URL on another of fal's hosts", async () => {
    const fal = falClientThroughProxy(server.url);
    const { error } = await settle(
      fal.run("https://rest.fal.ai/local/fal-direct-app", { input: {} }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError<unknown>).status).toBe(400);
  });

  it("lets an allowed origin's page preflight and send a proxied request, and read its timeout kind", async () => {
    const origin = "https://studio.example";
    const withCors = await serveForTest(FalDirectApp, { cors: { origin: [origin] } });
    try {
      const preflight = await fetch(`${withCors.url}${FAL_PROXY_PATH}`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type, x-fal-target-url, x-fal-request-timeout",
        },
      });
      expect(preflight.status).toBe(204);
      const allowed = preflight.headers.get("access-control-allow-headers")?.split(", ");
      expect(allowed).toEqual(
        expect.arrayContaining(["content-type", "x-fal-target-url", "x-fal-request-timeout"]),
      );
      const proxied = await fetch(`${withCors.url}${FAL_PROXY_PATH}`, {
        method: "POST",
        headers: {
          origin,
          "content-type": "application/json",
          "x-fal-target-url": "https://fal.run/local/fal-direct-app",
        },
        body: JSON.stringify({ name: "page" }),
      });
      expect(proxied.headers.get("access-control-allow-origin")).toBe(origin);
      expect(proxied.headers.get("access-control-expose-headers")).toContain(
        "x-fal-request-timeout-type",
      );
      expect(await proxied.json()).toEqual({ greeting: "hello page" });
    } finally {
      await withCors.close();
    }
  });

  it("routes a request whose Host is named queue.* under /queue", async () => {
    const answer = await sendRequest(
      server,
      { method: "GET", path: "/health" },
      { host: `queue.localhost:${server.port}` },
    );
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body).error.message).toBe("No route GET /queue/health");
  });
});

describe("rewriteFalUrl", () => {
  const rewrite = (url: string, headers: Record<string, string>) => rewriteFalUrl({ url, headers });

  it("maps a proxied fal.run URL to its path and a queue.fal.run one under /queue, keeping the query", () => {
    expect(
      rewrite(FAL_PROXY_PATH, { "x-fal-target-url": "https://fal.run/owner/app/stream?x=1" }),
    ).toBe("/owner/app/stream?x=1");
    expect(
      rewrite(`${FAL_PROXY_PATH}?ignored=1`, {
        "x-fal-target-url": "https://queue.fal.run/owner/app/requests/r1/status?logs=1",
      }),
    ).toBe("/queue/owner/app/requests/r1/status?logs=1");
  });

  it("leaves a refused target on the proxy path, where it is answered 400", () => {
    expect(rewrite(FAL_PROXY_PATH, { "x-fal-target-url": "https://evil.example/x" })).toBe(
      FAL_PROXY_PATH,
    );
    expect(rewrite(FAL_PROXY_PATH, {})).toBe(FAL_PROXY_PATH);
  });

  it("prefixes /queue for a queue.* Host, in any case, and nothing else", () => {
    expect(rewrite("/owner/app?x=1", { host: "Queue.Example.com:8443" })).toBe(
      "/queue/owner/app?x=1",
    );
    expect(rewrite("/owner/app", { host: "run.example.com" })).toBe("/owner/app");
    expect(rewrite("/owner/app", { host: "queuex.example.com" })).toBe("/owner/app");
    // A target header anywhere but on the proxy path is no instruction.
    expect(rewrite("/owner/app", { "x-fal-target-url": "https://queue.fal.run/x" })).toBe(
      "/owner/app",
    );
  });
});
