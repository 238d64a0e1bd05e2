import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { stream } from "../../src/client/index.ts";
import { cuttingProxy } from "./cutting-proxy.ts";
import CountingApp from "./fixtures/counting-app.ts";

let app: ServerHandle;
beforeAll(async () => {
  app = await serve(CountingApp, { port: 0, logger: pino({ level: "silent" }), retry: 0 });
});
afterAll(async () => {
  await app.close();
});

describe("resuming against troupe's own server", () => {
  it("goes on after a connection cut inside event 2 from event 2, none twice, none lost", async () => {
    const proxy = await cuttingProxy(app.port, '"step":2');
    try {
      const s = stream<{ step: number }, null>(proxy.url, {
        input: { to: 6 },
        reconnect: { attempts: 3, delay: 0 },
      });
      const events = [];
      for await (const event of s.events()) events.push(event);
      const numbered = events.filter((e) => e.type === "result" || e.type === "done");
      expect(numbered.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(
        numbered.filter((e) => e.type === "result").map((e) => (e.data as { step: number }).step),
      ).toEqual([1, 2, 3, 4, 5, 6]);
      expect(proxy.heads).toEqual([
        "POST /stream HTTP/1.1",
        `GET /stream?requestId=${s.requestId} HTTP/1.1 last-event-id=1`,
      ]);
    } finally {
      proxy.server.close();
    }
  });
});
