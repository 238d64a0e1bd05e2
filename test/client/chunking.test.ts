import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createStream } from "../../src/client/stream.ts";
import { collect } from "../helpers.ts";
import { ManualClock } from "./manual-clock.ts";
import { event, type SseServer, sseServer } from "./sse-server.ts";

let server: SseServer;
beforeEach(async () => {
  server = await sseServer();
});
afterEach(async () => {
  await server.close();
});

const encoder = new TextEncoder();

/**
 * Streams `bytes` as two writes split at `at`, the second only after the client has read the
 * first: the client arms its idle timer each time it goes back to waiting for bytes, and the
 * manual clock tells the test so. The timer never fires since the clock never moves.
 */
async function splitAt(bytes: Uint8Array, at: number, requestId: string) {
  await using server = await sseServer();
  const clock = new ManualClock();
  const s = createStream<unknown, unknown>(server.url, { timeout: 60_000 }, { clock });
  const events = collect(s.events());
  const exchange = await server.next();
  await exchange.open(requestId);
  await clock.armed(2); // waiting for headers, then waiting for the first body bytes
  if (at > 0) {
    const before = clock.count;
    await exchange.write(bytes.subarray(0, at));
    // Once the first part holds the last event, the client waits for nothing more.
    if (at < bytes.length) await clock.armed(before + 1);
  }
  if (at < bytes.length) await exchange.write(bytes.subarray(at));
  exchange.end();
  return await events;
}

describe("stream() across chunk boundaries", () => {
  const text =
    "retry: 1000\n\n" +
    event("queued", { position: 0 }) +
    ": ping\n\n" +
    event("started", {}) +
    event("result", { step: 0, message: "café 🌅 日の出" }, 1) +
    'event: result\r\nid: 2\r\ndata: {"step":1,\r\ndata: "crlf":true}\r\n\r\n' +
    event("done", { output: "αβγ" }, 3);
  const bytes = encoder.encode(text);
  const expected = [
    { type: "queued", position: 0 },
    { type: "started" },
    { type: "result", data: { step: 0, message: "café 🌅 日の出" }, id: 1 },
    { type: "result", data: { step: 1, crlf: true }, id: 2 },
    { type: "done", data: { output: "αβγ" }, id: 3 },
  ];

  it("reads the same events whichever byte the stream is split at, multi-byte characters included", async () => {
    // Sixteen splits at a time, each against a server of its own.
    for (let from = 0; from <= bytes.length; from += 16) {
      const splits = Array.from(
        { length: Math.min(16, bytes.length + 1 - from) },
        (_, i) => from + i,
      );
      const got = await Promise.all(splits.map((at) => splitAt(bytes, at, `req-${at}`)));
      for (const [i, events] of got.entries()) {
        expect(events, `split at byte ${splits[i]}`).toEqual(expected);
      }
    }
  }, 120_000);

  it("keeps a character whole when its bytes arrive in three chunks", async () => {
    const clock = new ManualClock();
    const s = createStream<unknown, unknown>(server.url, { timeout: 60_000 }, { clock });
    const results = collect(s);
    const exchange = await server.next();
    await exchange.open("req-emoji");
    await clock.armed(2);
    const sunrise = encoder.encode(event("result", "🌅", 1));
    const emojiAt = sunrise.indexOf(0xf0);
    for (const part of [
      sunrise.subarray(0, emojiAt + 1),
      sunrise.subarray(emojiAt + 1, emojiAt + 3),
      sunrise.subarray(emojiAt + 3),
    ]) {
      const before = clock.count;
      await exchange.write(part);
      await clock.armed(before + 1);
    }
    await exchange.write(event("done", "ok", 2));
    exchange.end();
    expect(await results).toEqual(["🌅"]);
  });
});
