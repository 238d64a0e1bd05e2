import { execFile } from "node:child_process";
import { Agent, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { parseHead, postJson, RawExchange, serveForTest } from "./helpers.ts";

const troupe = { "troupe-dialect": "troupe" };

/** `curl -sN` of a streaming request: its exit code and what it printed. */
function curl(url: string, body: unknown): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      "curl",
      [
        "-sN",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        JSON.stringify(body),
        url,
      ],
      (error, stdout) => resolve({ code: error === null ? 0 : Number(error.code), stdout }),
    );
  });
}

describe("a request that fails after its response started", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp);
  });
  afterAll(() => server.close());

  it("ends fal's dialect with the error event and no terminating chunk, so it never reads as complete", async () => {
    const exchange = await RawExchange.post(server, "/stream", { op: "exit", rank: 1 });
    await exchange.ended;
    const { headers } = parseHead(exchange.text);
    expect(headers["transfer-encoding"]).toBe("chunked");
    expect(headers["troupe-dialect"]).toBe("fal");
    expect(exchange.body).toMatch(/^data: \{"exiting":1\}\n\nevent: error\ndata: \{"error":/);
    const events = exchange.events;
    expect(events.map((e) => e.event)).toEqual([undefined, "error"]);
    expect(JSON.parse(events[1]?.data ?? "")).toMatchObject({
      error: { code: "WORKER_EXITED", requestId: headers["x-request-id"] },
      fatal: true,
    });
    expect(exchange.complete).toBe(false);
    expect(exchange.bytes.toString("latin1").endsWith("0\r\n\r\n")).toBe(false);
  });

  it("ends a successful fal-dialect stream with the terminating chunk", async () => {
    const exchange = await RawExchange.post(server, "/stream", { op: "burst", count: 2 });
    await exchange.ended;
    expect(exchange.complete).toBe(true);
  });

  it("makes the seed's fetch reader throw instead of ending quietly", async () => {
    const response = await postJson(server, "/stream", { op: "throw", rank: 1, message: "boom" });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = "";
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        text += decoder.decode(value, { stream: true });
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    // The error event arrived before the abort.
    expect(text).toContain('"code":"CALL_FAILED"');
  });

  it("makes curl -N exit non-zero on a failure and zero on success", async () => {
    const failed = await curl(`${server.url}/stream`, { op: "throw", rank: 0, message: "boom" });
    expect(failed.code).not.toBe(0);
    expect(failed.stdout).toContain("event: error");
    const ok = await curl(`${server.url}/stream`, { op: "burst", count: 1 });
    expect(ok.code).toBe(0);
  });

  it("ends troupe's dialect cleanly after its fatal error event, which its reader takes as the outcome", async () => {
    const exchange = await RawExchange.post(server, "/stream", { op: "exit", rank: 1 }, troupe);
    await exchange.ended;
    expect(parseHead(exchange.text).headers["troupe-dialect"]).toBe("troupe");
    expect(exchange.events.at(-1)?.event).toBe("error");
    expect(exchange.complete).toBe(true);
  });

  it("puts only code, message, rank and request id in the error event: no stack, cause or file path", async () => {
    const exchange = await RawExchange.post(server, "/stream", {
      op: "throw",
      rank: 1,
      message: "boom",
    });
    await exchange.ended;
    const data = exchange.events[0]?.data ?? "";
    const { error } = JSON.parse(data) as { error: Record<string, unknown> };
    expect(Object.keys(error).sort()).toEqual(["code", "message", "name", "rank", "requestId"]);
    expect(error).toMatchObject({ code: "CALL_FAILED", message: "Rank 1 failed: boom", rank: 1 });
    expect(data).not.toMatch(/\bat\s|\/\w+\/|\.ts\b|cause|stack/);
  });

  it("fails the response when a fatal error event is in SSE text an app's generator passes on", async () => {
    const fal = await RawExchange.post(server, "/wrapped", { op: "exit", rank: 1 });
    await fal.ended;
    expect(fal.events.map((e) => e.event)).toEqual([undefined, "error"]);
    expect(fal.complete).toBe(false);

    // troupe's dialect re-frames the text: the error event is its fatal one, the end clean.
    const troupeExchange = await RawExchange.post(
      server,
      "/wrapped",
      { op: "exit", rank: 1 },
      troupe,
    );
    await troupeExchange.ended;
    expect(troupeExchange.events.map((e) => e.event)).toEqual(["result", "error"]);
    expect(JSON.parse(troupeExchange.events.at(-1)?.data ?? "")).toMatchObject({
      error: { code: "WORKER_EXITED" },
      fatal: true,
    });
    expect(troupeExchange.complete).toBe(true);
  });

  it("answers a plain generator's failure in fal's dialect with an aborted response too", async () => {
    const exchange = await RawExchange.post(server, "/items", { count: 2, fail: true });
    await exchange.ended;
    expect(exchange.events.at(-1)?.event).toBe("error");
    expect(exchange.complete).toBe(false);
  });
});

describe("SSE responses over Node's HTTP machinery", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp);
  });
  afterAll(() => server.close());

  it("keeps the connection alive for the next request after a stream ends", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = () =>
        new Promise<{ body: string; reused: boolean }>((resolve, reject) => {
          const req = request(
            `${server.url}/stream`,
            { method: "POST", agent, headers: { "content-type": "application/json" } },
            (res) => {
              let body = "";
              res.setEncoding("utf8");
              res.on("data", (chunk: string) => (body += chunk));
              res.on("end", () => resolve({ body, reused: req.reusedSocket }));
              res.on("error", reject);
            },
          );
          req.on("error", reject);
          req.end(JSON.stringify({ op: "burst", count: 1 }));
        });
      const first = await get();
      const second = await get();
      expect(first.reused).toBe(false);
      expect(second.reused).toBe(true);
      expect(second.body).toBe(
        'data: {"i":0}\n\ndata: {"i":1,"last":true}\n\ndata: {"count":1}\n\n',
      );
    } finally {
      agent.destroy();
    }
  });
});
