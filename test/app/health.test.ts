import { describe, expect, it } from "vitest";
import { z } from "zod";
import { probeStatusCode } from "../../src/app/health.ts";
import { App, ErrorCode, endpoint } from "../../src/app/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { serveForTest } from "./helpers.ts";

const KEY = "health-test-key";

describe("the probes' status codes (Kubernetes' conventions)", () => {
  it("gives readiness 200 only when ready, and liveness 200 until failed", () => {
    const statuses = ["starting", "ready", "restarting", "failed"] as const;
    expect(statuses.map((s) => probeStatusCode("ready", s))).toEqual([503, 200, 503, 503]);
    expect(statuses.map((s) => probeStatusCode("health", s))).toEqual([503, 200, 503, 503]);
    expect(statuses.map((s) => probeStatusCode("live", s))).toEqual([200, 200, 200, 503]);
  });
});

describe("/health, /health/live and /health/ready", () => {
  it("answer 200 {status} when ready, and 503 failed once a runner is down", async () => {
    const server = await serveForTest(ScenarioApp);
    try {
      for (const path of ["/health/live", "/health/ready"]) {
        const response = await fetch(`${server.url}${path}`);
        expect(response.status, path).toBe(200);
        expect(await response.json()).toEqual({ status: "ready" });
      }
      const head = await fetch(`${server.url}/health/ready`, { method: "HEAD" });
      expect(head.status).toBe(200);
      await (server.app as ScenarioApp).runner.stop();
      for (const path of ["/health", "/health/live", "/health/ready"]) {
        const response = await fetch(`${server.url}${path}`);
        expect(response.status, path).toBe(503);
        expect(((await response.json()) as { status: string }).status).toBe("failed");
      }
    } finally {
      await server.close();
    }
  });

  it("answer 405 with Allow: GET, HEAD to other methods", async () => {
    const server = await serveForTest(App);
    try {
      for (const path of ["/health/live", "/health/ready"]) {
        const response = await fetch(`${server.url}${path}`, { method: "POST" });
        expect(response.status, path).toBe(405);
        expect(response.headers.get("allow")).toBe("GET, HEAD");
        const { error } = (await response.json()) as { error: { code: string } };
        expect(error.code).toBe(ErrorCode.METHOD_NOT_ALLOWED);
      }
    } finally {
      await server.close();
    }
  });

  it("are troupe's own paths: no endpoint may take one", async () => {
    const input = z.object({});
    for (const path of ["/health/live", "/health/ready"]) {
      class Taken extends App {
        @endpoint(path, { input })
        async probe() {}
      }
      await expect(serveForTest(Taken)).rejects.toMatchObject({
        code: ErrorCode.INVALID_ARGUMENT,
        message: `The path ${path} is served by troupe itself`,
      });
    }
  });
});

describe("/health when API keys are set", () => {
  it("is open without a key but says only {status}; the probes are open too", async () => {
    const server = await serveForTest(ScenarioApp, { auth: { keys: [KEY] } });
    try {
      const open = await fetch(`${server.url}/health`);
      expect(open.status).toBe(200);
      expect(await open.json()).toEqual({ status: "ready" });
      for (const path of ["/health/live", "/health/ready"]) {
        const response = await fetch(`${server.url}${path}`);
        expect(response.status, path).toBe(200);
        expect(await response.json()).toEqual({ status: "ready" });
      }
      // Everything else still needs the key.
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    } finally {
      await server.close();
    }
  });
});
