import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { stream } from "../../src/client/index.ts";
import CountingApp from "./fixtures/counting-app.ts";

/**
 * A TCP proxy in front of the app that cuts its first connection once the app has sent
 * `cutAfter` through it, as a network that fails mid-stream would; later connections pass.
 */
async function cuttingProxy(
  target: number,
  cutAfter: string,
): Promise<{ url: string; server: Server; heads: string[] }> {
  let connections = 0;
  const heads: string[] = [];
  const server = createServer((client: Socket) => {
    const first = connections++ === 0;
    const upstream = connect(target, "127.0.0.1");
    client.once("data", (chunk: Buffer) => {
      const head = chunk.toString("latin1").split("\r\n\r\n")[0] ?? "";
      const lastEventId = /^last-event-id: (.*)$/im.exec(head)?.[1];
      heads.push(
        `${head.split("\r\n")[0]}${lastEventId === undefined ? "" : ` last-event-id=${lastEventId}`}`,
      );
    });
    client.pipe(upstream);
    let seen = "";
    upstream.on("data", (chunk: Buffer) => {
      if (!first) {
        client.write(chunk);
        return;
      }
      seen += chunk.toString("latin1");
      const at = seen.indexOf(cutAfter);
      if (at === -1) {
        client.write(chunk);
        return;
      }
      // Forward up to the end of the marker, then drop both sides.
      const keep = chunk.length - (seen.length - (at + cutAfter.length));
      client.end(chunk.subarray(0, keep), () => client.destroy());
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, heads };
}

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
