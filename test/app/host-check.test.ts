import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostName, hostPolicy, isLoopbackName } from "../../src/app/host-check.ts";
import type { ServeOptions, ServerHandle } from "../../src/app/index.ts";
import CounterApp from "../fixtures/app/counter-app.ts";
import { parseHead, serveForTest } from "./helpers.ts";
import { type Answer, type RouteRequest, sendRequest } from "./http-request.ts";

/** Every kind of route the server has: a request to each must be refused alike. */
const ROUTES: readonly RouteRequest[] = [
  { method: "POST", path: "/stream", body: { steps: 1 } },
  { method: "POST", path: "/echo", body: {} },
  { method: "GET", path: "/stream?requestId=some-id" },
  { method: "DELETE", path: "/requests/some-id" },
  { method: "GET", path: "/openapi.json" },
  { method: "GET", path: "/metrics" },
  { method: "GET", path: "/health" },
  { method: "GET", path: "/" },
  { method: "GET", path: "/no-such-route" },
];

/** A request whose `Host` header is `host`. */
function send(server: ServerHandle, route: RouteRequest, host: string): Promise<Answer> {
  return sendRequest(server, route, { host });
}

/** Serves CounterApp with `options` for `body`, then closes it. */
async function withServer(
  options: ServeOptions,
  body: (server: ServerHandle) => Promise<void>,
): Promise<void> {
  const server = await serveForTest(CounterApp, options);
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

const HEALTH: RouteRequest = { method: "GET", path: "/health" };

function expectRefused(answer: Answer) {
  expect(answer.status).toBe(403);
  const { error } = JSON.parse(answer.body) as { error: Record<string, unknown> };
  expect(error).toMatchObject({ name: "HostNotAllowedError", code: "HOST_NOT_ALLOWED" });
  expect(error.requestId).toBe(answer.headers["x-request-id"]);
  expect(answer.body).not.toContain('"stack"');
}

describe("a server bound to 127.0.0.1, allowedHosts unset", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(CounterApp, { host: "127.0.0.1" });
  });
  afterAll(() => server.close());
  const calls = () => (server.app as CounterApp).calls;

  it.each(ROUTES)(
    "refuses a rebinding Host on $method $path with 403 HOST_NOT_ALLOWED",
    async (route) => {
      const before = calls();
      expectRefused(await send(server, route, `evil.example:${server.port}`));
      expect(calls()).toBe(before);
    },
  );

  it("refuses other foreign spellings: no port, upper case, a public address, a bad port, localhost. with its dot", async () => {
    for (const host of [
      "evil.example",
      "EVIL.example:80",
      "203.0.113.7",
      "[2001:db8::1]:8000",
      "localhost:x",
      "localhost.",
      "localhost.evil.example",
    ]) {
      expectRefused(await send(server, HEALTH, host));
    }
  });

  it("answers the loopback names, with and without a port", async () => {
    const names = ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "app.localhost", "[::1]"];
    for (const name of [...names, ...names.map((n) => `${n}:${server.port}`)]) {
      const answer = await send(server, HEALTH, name);
      expect(answer.status, name).toBe(200);
    }
    const before = calls();
    const posted = await send(server, { method: "POST", path: "/echo", body: {} }, "localhost");
    expect(posted.status).toBe(200);
    expect(calls()).toBe(before + 1);
  });

  it("refuses an HTTP/1.0 request without a Host header", async () => {
    const bare = await rawRequest(server.port, "GET /openapi.json HTTP/1.0\r\n\r\n");
    const { status } = parseHead(bare);
    expect(status).toBe(403);
    expect(bare).toContain('"code":"HOST_NOT_ALLOWED"');
    expect(bare).toContain("has no Host header");
  });
});

describe("allowedHosts", () => {
  it("a list answers the hosts it names (any port, any case) besides the loopback names", () =>
    withServer({ allowedHosts: ["Rebind.test", "api.example:9"] }, async (server) => {
      for (const host of [
        `rebind.test:${server.port}`,
        "REBIND.TEST",
        "api.example:443",
        "localhost",
      ]) {
        expect((await send(server, HEALTH, host)).status, host).toBe(200);
      }
      expectRefused(await send(server, HEALTH, "other.test"));
      expectRefused(await send(server, HEALTH, "sub.rebind.test"));
    }));

  it("true answers any host", () =>
    withServer({ allowedHosts: true }, async (server) => {
      expect((await send(server, HEALTH, "evil.example")).status).toBe(200);
    }));

  it("unset on a server bound to every interface answers any host", () =>
    withServer({ host: "0.0.0.0" }, async (server) => {
      expect((await send(server, HEALTH, "my-box.lan")).status).toBe(200);
    }));

  it("rejects a malformed option, naming it", async () => {
    await expect(
      serveForTest(CounterApp, { allowedHosts: [""] as unknown as string[] }),
    ).rejects.toThrow("Expected `allowedHosts` to be true or a list of host names");
  });
});

describe("host names", () => {
  it("takes the port off, keeps IPv6 brackets, lower-cases, and refuses malformed ones", () => {
    expect(hostName("Example.COM:8000")).toBe("example.com");
    expect(hostName("[::1]:8000")).toBe("[::1]");
    expect(hostName("::1")).toBe("[::1]");
    expect(hostName("[::1")).toBeUndefined();
    expect(hostName("[::1]x")).toBeUndefined();
    expect(hostName("a:b")).toBeUndefined();
    expect(hostName(":80")).toBeUndefined();
    expect(hostName("")).toBeUndefined();
  });

  it("knows the loopback names and addresses", () => {
    for (const name of [
      "localhost",
      "a.b.localhost",
      "127.0.0.1",
      "127.255.0.9",
      "::1",
      "[::1]",
      "[0:0:0:0:0:0:0:1]",
    ]) {
      expect(isLoopbackName(name), name).toBe(true);
    }
    for (const name of [
      "0.0.0.0",
      "::",
      "128.0.0.1",
      "localhost.",
      "127.1",
      "notlocalhost",
      "[::2]",
    ]) {
      expect(isLoopbackName(name), name).toBe(false);
    }
  });

  it("binds the policy to the server's address", () => {
    expect(hostPolicy(undefined, "localhost")("evil.example")).toBe(false);
    expect(hostPolicy(undefined, "::1")("evil.example")).toBe(false);
    expect(hostPolicy(undefined, "::")("evil.example")).toBe(true);
    expect(hostPolicy(undefined, "192.0.2.5")(undefined)).toBe(true);
    expect(hostPolicy(["a.test"], "192.0.2.5")(undefined)).toBe(false);
  });
});

/** Writes `text` on a fresh connection and resolves with all the server sent back. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
  });
}
