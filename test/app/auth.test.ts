/**
 * Attacks on a server with API keys: no key, a wrong one, malformed headers, the app's own
 * check failing, on every route the app has; and the clients that hold the right key.
 */
import type { OutgoingHttpHeaders } from "node:http";
import { ApiError, createFalClient } from "@fal-ai/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  keyFingerprint,
  keyMatcher,
  presentedKey,
  VERIFIED_PRINCIPAL,
} from "../../src/app/auth.ts";
import { endpointsOf } from "../../src/app/endpoint.ts";
import type { AuthRequest, ServeOptions, ServerHandle } from "../../src/app/index.ts";
import { RequestError, run, stream } from "../../src/client/index.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { recordingPino, serveForTest } from "./helpers.ts";
import { type Answer, type RouteRequest as Route, sendRequest as send } from "./http-request.ts";

const KEY = "tr_live_0123456789abcdef";
const OTHER_KEY = "tr_live_fedcba9876543210";

/** The routes that need a key, built from the app: each endpoint's POST and resume GET, and troupe's own. */
function guardedRoutes(server: ServerHandle): Route[] {
  const routes: Route[] = [];
  for (const e of endpointsOf(server.app)) {
    routes.push({ method: "POST", path: e.path, body: {} });
    routes.push({ method: "GET", path: `${e.path}?requestId=some-id` });
  }
  routes.push(
    { method: "DELETE", path: "/requests/some-id" },
    { method: "GET", path: "/metrics" },
    { method: "GET", path: "/openapi.json" },
    { method: "GET", path: "/no-such-route" },
    { method: "POST", path: "/health" },
  );
  return routes;
}

const PROBES: readonly Route[] = ["/health", "/health/live", "/health/ready"].map((path) => ({
  method: "GET",
  path,
}));

/** 401 with troupe's error body, fal's `detail` beside it, and the challenge. */
function expectUnauthorized(answer: Answer, label: string): void {
  expect(answer.status, label).toBe(401);
  expect(answer.headers["www-authenticate"], label).toBe("Key, Bearer");
  const body = JSON.parse(answer.body) as { error: Record<string, unknown>; detail: unknown };
  expect(body.error, label).toMatchObject({ name: "UnauthorizedError", code: "UNAUTHORIZED" });
  expect(body.error.requestId, label).toBe(answer.headers["x-request-id"]);
  expect(body.detail, label).toBe(body.error.message);
  expect(answer.body, label).not.toContain(KEY);
  expect(answer.body, label).not.toContain('"stack"');
}

describe("a server with API keys", () => {
  let server: ServerHandle;
  const log = recordingPino();
  const calls = () => (server.app as CounterApp).calls;
  beforeAll(async () => {
    server = await serveForTest(CounterApp, {
      auth: { keys: [KEY, OTHER_KEY] },
      logger: log.logger,
    });
  });
  afterAll(() => server.close());

  const refusals: [string, OutgoingHttpHeaders][] = [
    ["no Authorization header", {}],
    ["a wrong key", { authorization: "Key tr_live_wrong" }],
    ["a prefix of the key", { authorization: `Key ${KEY.slice(0, -1)}` }],
    ["the key and more", { authorization: `Key ${KEY}x` }],
    ["the key in another case", { authorization: `Key ${KEY.toUpperCase()}` }],
    ["Key with no value", { authorization: "Key" }],
    ["Key and a space", { authorization: "Key " }],
    ["a bare key, no scheme", { authorization: KEY }],
    ["another scheme", { authorization: `Basic ${Buffer.from(`u:${KEY}`).toString("base64")}` }],
    ["Token as the scheme", { authorization: `Token ${KEY}` }],
    ["two words as the key", { authorization: `Key ${KEY} ${KEY}` }],
    // node:http writes an array as two header lines; its types allow one for Authorization.
    [
      "two Authorization headers",
      { authorization: [`Key ${KEY}`, `Key ${KEY}`] as unknown as string },
    ],
    ["the key in another header", { "x-api-key": KEY }],
  ];

  it.each(refusals)(
    "refuses %s with 401 on every route, before any handler runs",
    async (_label, headers) => {
      const before = calls();
      for (const route of guardedRoutes(server)) {
        expectUnauthorized(await send(server, route, headers), `${route.method} ${route.path}`);
      }
      expect(calls()).toBe(before);
    },
  );

  it.each([
    ["Key", `Key ${KEY}`],
    ["Bearer", `Bearer ${KEY}`],
    ["the other key, lower-case scheme", `key ${OTHER_KEY}`],
    ["BEARER, spaces around", `  BEARER   ${KEY}  `],
  ])("lets a right key in via %s on every route", async (_label, authorization) => {
    const answers = new Map<string, Answer>();
    for (const route of guardedRoutes(server)) {
      answers.set(`${route.method} ${route.path}`, await send(server, route, { authorization }));
    }
    const status = (key: string) => answers.get(key)?.status;
    expect(status("POST /stream")).toBe(200);
    expect(JSON.parse(answers.get("POST /echo")?.body ?? "")).toMatchObject({ received: {} });
    // The route itself answered: it has no request by that id.
    expect(status("GET /stream?requestId=some-id")).toBe(404);
    expect(answers.get("GET /echo?requestId=some-id")?.body).toContain("REQUEST_NOT_FOUND");
    expect(answers.get("DELETE /requests/some-id")?.body).toContain("REQUEST_NOT_FOUND");
    expect(answers.get("GET /metrics")?.body).toContain("troupe_");
    expect(JSON.parse(answers.get("GET /openapi.json")?.body ?? "")).toMatchObject({
      info: { title: "CounterApp" },
    });
    expect(status("GET /no-such-route")).toBe(404);
    expect(status("POST /health")).toBe(405);
  });

  it("leaves the probes open: /health says only its status to a caller without a key", async () => {
    for (const route of PROBES) {
      const open = await send(server, route);
      expect(open.status, route.path).toBe(200);
      expect(JSON.parse(open.body), route.path).toEqual({ status: "ready" });
    }
    const full = await send(server, PROBES[0] as Route, { authorization: `Key ${KEY}` });
    expect(JSON.parse(full.body)).toMatchObject({ status: "ready", runners: [] });
    const wrong = await send(server, PROBES[0] as Route, { authorization: "Key wrong" });
    expect(JSON.parse(wrong.body)).toEqual({ status: "ready" });
  });

  it("answers GET / without a key with the playground's shell, naming nothing of the app", async () => {
    const shell = await send(server, { method: "GET", path: "/" });
    expect(shell.status).toBe(200);
    expect(shell.headers["content-type"]).toContain("text/html");
    expect(shell.body).toContain("<title>troupe playground</title>");
    expect(shell.body).toContain('data-testid="key-form"');
    expect(shell.body).not.toContain("CounterApp");
    const page = await send(server, { method: "GET", path: "/" }, { authorization: `Key ${KEY}` });
    expect(page.body).toContain("<title>CounterApp</title>");
  });

  it("logs each refusal as the request's failure, without the key", () => {
    const refused = log.lines.filter((line) => line.code === "UNAUTHORIZED");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ status: 401, outcome: "rejected" });
    expect(log.raw.join("\n")).not.toContain(KEY);
  });

  it("answers a CORS preflight only where CORS allows the origin", async () => {
    const preflight: OutgoingHttpHeaders = {
      origin: "http://page.example",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    };
    // CORS is off here: a preflight is a request like any, and needs a key.
    expectUnauthorized(
      await send(server, { method: "OPTIONS", path: "/stream" }, preflight),
      "OPTIONS",
    );
    const open = await serveForTest(CounterApp, {
      auth: { keys: [KEY] },
      cors: { origin: ["http://page.example"] },
    });
    try {
      const allowed = await send(open, { method: "OPTIONS", path: "/stream" }, preflight);
      expect(allowed.status).toBe(204);
      expect(allowed.headers["access-control-allow-headers"]).toContain("authorization");
      const other = { ...preflight, origin: "http://elsewhere.example" };
      expectUnauthorized(await send(open, { method: "OPTIONS", path: "/stream" }, other), "other");
      // The 401 of a page allowed by CORS carries the CORS headers, so the page can read it.
      const denied = await send(
        open,
        { method: "POST", path: "/echo", body: {} },
        { origin: "http://page.example" },
      );
      expectUnauthorized(denied, "POST from the page");
      expect(denied.headers["access-control-allow-origin"]).toBe("http://page.example");
    } finally {
      await open.close();
    }
  });
});

describe("auth.verify, the app's own check", () => {
  /** A stand-in for a JWT check: three base64url parts, the middle one naming the subject. */
  const jwtLike = (request: AuthRequest): boolean => {
    const header = request.headers["x-session-token"];
    if (typeof header !== "string") return false;
    const [, payload] = header.split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as {
      sub?: unknown;
    };
    return claims.sub === "alice";
  };
  const token = (sub: string) =>
    ["e30", Buffer.from(JSON.stringify({ sub })).toString("base64url"), "sig"].join(".");

  it("admits whom it says yes to, on every route, and the keys still work beside it", async () => {
    const seen: AuthRequest[] = [];
    const server = await serveForTest(CounterApp, {
      auth: {
        keys: [KEY],
        verify: async (request) => {
          seen.push(request);
          return jwtLike(request);
        },
      },
    });
    try {
      for (const route of guardedRoutes(server)) {
        const label = `${route.method} ${route.path}`;
        const admitted = await send(server, route, { "x-session-token": token("alice") });
        expect(admitted.status, label).not.toBe(401);
        expectUnauthorized(
          await send(server, route, { "x-session-token": token("mallory") }),
          label,
        );
      }
      expect(seen.at(-1)).toMatchObject({ method: "POST", url: "/health" });
      expect(
        (
          await send(
            server,
            { method: "POST", path: "/echo", body: {} },
            { authorization: `Key ${KEY}` },
          )
        ).status,
      ).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("a verify() that throws refuses the request; the error goes to the log, never to the client", async () => {
    const log = recordingPino();
    const server = await serveForTest(CounterApp, {
      logger: log.logger,
      auth: {
        verify: () => {
          throw new Error("token store at /srv/secret/jwks unreachable");
        },
      },
    });
    try {
      for (const route of guardedRoutes(server)) {
        const answer = await send(server, route, { "x-session-token": token("alice") });
        expectUnauthorized(answer, `${route.method} ${route.path}`);
        expect(answer.body).not.toContain("/srv/secret");
      }
      expect((server.app as CounterApp).calls).toBe(0);
      const logged = log.lines.filter(
        (line) => line.msg === "auth verify() threw; the request is refused",
      );
      expect(logged.length).toBe(guardedRoutes(server).length);
      expect(JSON.stringify(logged[0])).toContain("token store at /srv/secret/jwks unreachable");
    } finally {
      await server.close();
    }
  });
});

describe("TROUPE_API_KEYS", () => {
  const saved = process.env.TROUPE_API_KEYS;
  afterEach(() => {
    if (saved === undefined) delete process.env.TROUPE_API_KEYS;
    else process.env.TROUPE_API_KEYS = saved;
  });
  const echo: Route = { method: "POST", path: "/echo", body: {} };

  it("is read when auth is unset: comma-separated, trimmed, empty entries dropped", async () => {
    process.env.TROUPE_API_KEYS = ` ${KEY} ,, ${OTHER_KEY},`;
    const server = await serveForTest(CounterApp);
    try {
      expectUnauthorized(await send(server, echo), "none");
      expect((await send(server, echo, { authorization: `Key ${KEY}` })).status).toBe(200);
      expect((await send(server, echo, { authorization: `Key ${OTHER_KEY}` })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("gives way to auth, and when empty asks for no key", async () => {
    process.env.TROUPE_API_KEYS = KEY;
    const given = await serveForTest(CounterApp, { auth: { keys: [OTHER_KEY] } });
    try {
      expectUnauthorized(await send(given, echo, { authorization: `Key ${KEY}` }), "env key");
      expect((await send(given, echo, { authorization: `Key ${OTHER_KEY}` })).status).toBe(200);
    } finally {
      await given.close();
    }
    process.env.TROUPE_API_KEYS = " , ";
    const open = await serveForTest(CounterApp);
    try {
      expect((await send(open, echo)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe("the auth option", () => {
  it.each<[string, ServeOptions["auth"], string]>([
    ["no keys and no verify", { keys: [] }, "at least one key or a verify function"],
    ["a key that is not a string", { keys: [1 as unknown as string] }, "Expected `auth` to be"],
    ["a key with a space", { keys: ["two words"] }, "printable ASCII without spaces"],
    ["a key with a newline", { keys: ["line\nbreak"] }, "printable ASCII without spaces"],
  ])("refuses %s, without echoing the key", async (_label, auth, message) => {
    const error = await serveForTest(CounterApp, { auth }).then(
      (server) => server.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT" });
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain("two words");
  });
});

describe("keys, as the hook reads them", () => {
  it("takes one Key or Bearer token from exactly one Authorization header", () => {
    expect(presentedKey(["Authorization", `Key ${KEY}`])).toBe(KEY);
    expect(presentedKey(["authorization", `bearer ${KEY}`, "Host", "x"])).toBe(KEY);
    expect(presentedKey(["Host", "x"])).toBeUndefined();
    expect(presentedKey(["authorization", "Key"])).toBeUndefined();
    expect(presentedKey(["authorization", "Key a", "AUTHORIZATION", "Key a"])).toBeUndefined();
  });

  it("matches every accepted key and no other string, whatever its length", () => {
    const matches = keyMatcher([KEY, OTHER_KEY]);
    expect(matches(KEY)).toBe(true);
    expect(matches(OTHER_KEY)).toBe(true);
    for (const other of ["", "t", KEY.slice(0, 10), `${KEY}${KEY}`, "x".repeat(10_000)]) {
      expect(matches(other)).toBe(false);
    }
  });

  it("records a short fingerprint of the key, never the key", () => {
    const print = keyFingerprint(KEY);
    expect(print).toMatch(/^[0-9a-f]{16}$/);
    expect(print).not.toContain(KEY);
    expect(keyFingerprint(OTHER_KEY)).not.toBe(print);
    expect(VERIFIED_PRINCIPAL).toBe("verify");
  });
});

describe("clients with the key", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(CounterApp, { auth: { keys: [KEY] } });
  });
  afterAll(() => server.close());

  it("troupe/client's apiKey is sent on the POST, and a wrong one is a 401 RequestError", async () => {
    expect(await run(server.url, { path: "/echo", input: { a: 1 }, apiKey: KEY })).toMatchObject({
      received: { a: 1 },
    });
    const s = stream(server.url, { path: "/stream", input: { steps: 2 }, apiKey: KEY });
    const results: unknown[] = [];
    for await (const result of s) results.push(result);
    expect(results).toEqual([
      { step: 0, progress: 0.5 },
      { step: 1, progress: 1 },
    ]);
    const refused = await run(server.url, { path: "/echo", apiKey: "wrong" }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RequestError);
    expect(refused).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    // apiKey replaces an Authorization header given with the others.
    const replaced = await run(server.url, {
      path: "/echo",
      apiKey: KEY,
      headers: { Authorization: "Key wrong" },
    });
    expect(replaced).toMatchObject({ received: {} });
  });

  it("troupe/client refuses an apiKey that cannot be one header token", async () => {
    await expect(run(server.url, { apiKey: "two words" })).rejects.toThrow(
      "Expected `apiKey` to be a non-empty string of printable ASCII without spaces",
    );
    expect(() => stream(server.url, { apiKey: "" })).toThrow("Expected `apiKey`");
  });

  const APP_ID = "troupe/counter";
  const APP_URL = `https://fal.run/${APP_ID}`;
  const falClient = (credentials?: string) =>
    createFalClient({
      ...(credentials === undefined ? {} : { credentials }),
      requestMiddleware: async (request) => ({
        ...request,
        url: server.url + request.url.slice(APP_URL.length),
      }),
    });

  it("@fal-ai/client with credentials runs and streams", async () => {
    const fal = falClient(KEY);
    const ran = await fal.run(`${APP_ID}/echo`, { input: { a: 1 } });
    expect(ran.data).toMatchObject({ received: { a: 1 } });
    const s = await fal.stream(APP_ID, { input: { steps: 2 } });
    const items: unknown[] = [];
    for await (const item of s) items.push(item);
    expect(items).toEqual([
      { step: 0, progress: 0.5 },
      { step: 1, progress: 1 },
    ]);
  });

  it("@fal-ai/client without credentials gets its ApiError 401, with troupe's body", async () => {
    const fal = falClient();
    const before = (server.app as CounterApp).calls;
    const ran = await fal.run(`${APP_ID}/echo`, { input: {} }).catch((e: unknown) => e);
    expect(ran).toBeInstanceOf(ApiError);
    expect(ran).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED" } } });
    const s = await fal.stream(APP_ID, { input: { steps: 1 } });
    const done = await s.done().catch((e: unknown) => e);
    expect(done).toBeInstanceOf(ApiError);
    expect((done as ApiError<unknown>).status).toBe(401);
    expect((server.app as CounterApp).calls).toBe(before);
  });
});
