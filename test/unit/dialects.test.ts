import { describe, expect, it } from "vitest";
import { WorkerCallError } from "../../src/errors.ts";
import type { DecodeHelpers } from "../../src/events/event-data.ts";
import { decodeFalMessage, encodeFalEvent } from "../../src/events/fal-dialect.ts";
import { dialectOf } from "../../src/events/sse-names.ts";
import {
  decodeTroupeMessage,
  encodeRetry,
  encodeTroupeEvent,
} from "../../src/events/troupe-dialect.ts";

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);
const context = { requestId: "req-1", forwardsAllRanks: false };
const helpers: DecodeHelpers = {
  parse: (t) => JSON.parse(t),
  fail: (message) => {
    throw new Error(message);
  },
};
const failure = new WorkerCallError("Rank 1 failed: boom", { rank: 1, cause: new Error("boom") });

describe("fal's dialect", () => {
  it("writes results and the final result as bare data events, and nothing for queue or start", () => {
    expect(text(encodeFalEvent({ type: "result", rank: 0, data: { step: 1 } }, context))).toBe(
      'data: {"step":1}\n\n',
    );
    expect(text(encodeFalEvent({ type: "done", data: { output: "x" } }, context))).toBe(
      'data: {"output":"x"}\n\n',
    );
    expect(encodeFalEvent({ type: "queued", position: 2 }, context)).toBeUndefined();
    expect(encodeFalEvent({ type: "started" }, context)).toBeUndefined();
    expect(text(encodeFalEvent({ type: "heartbeat" }, context))).toBe(": ping\n\n");
  });

  it("tags results with their rank when the runner forwards every rank's", () => {
    const all = { ...context, forwardsAllRanks: true };
    expect(text(encodeFalEvent({ type: "result", rank: 1, data: 5 }, all))).toBe(
      'data: {"rank":1,"result":5}\n\n',
    );
  });

  it("writes a failure as one named error event with the public error", () => {
    expect(text(encodeFalEvent({ type: "error", error: failure, fatal: true }, context))).toBe(
      'event: error\ndata: {"error":{"name":"WorkerCallError","code":"CALL_FAILED","message":"Rank 1 failed: boom","rank":1,"requestId":"req-1"},"fatal":true}\n\n',
    );
  });

  it("reads back an unnamed event as a result and the error event as an error", () => {
    expect(decodeFalMessage({ data: '{"a":1}' }, helpers)).toEqual({
      type: "result",
      rank: 0,
      data: { a: 1 },
    });
    const error = decodeFalMessage(
      { event: "error", data: '{"error":{"code":"CALL_FAILED","message":"m"},"fatal":true}' },
      helpers,
    );
    expect(error).toMatchObject({
      type: "error",
      fatal: true,
      error: { code: "CALL_FAILED", message: "m" },
    });
    expect(decodeFalMessage({ event: "other", data: "{}" }, helpers)).toBeUndefined();
  });
});

describe("troupe's dialect", () => {
  it("numbers the events that carry request data and names every event", () => {
    expect(text(encodeTroupeEvent({ type: "queued", position: 3 }, undefined, context))).toBe(
      'event: queued\ndata: {"position":3}\n\n',
    );
    expect(text(encodeTroupeEvent({ type: "started" }, undefined, context))).toBe(
      "event: started\ndata: {}\n\n",
    );
    expect(text(encodeTroupeEvent({ type: "result", rank: 0, data: [1] }, 4, context))).toBe(
      "event: result\nid: 4\ndata: [1]\n\n",
    );
    expect(text(encodeTroupeEvent({ type: "done", data: null }, 5, context))).toBe(
      "event: done\nid: 5\ndata: null\n\n",
    );
    expect(text(encodeRetry(250))).toBe("retry: 250\n\n");
  });

  it("reads back each of its events, and rejects an unnamed one or a queue event without a position", () => {
    const error =
      text(encodeTroupeEvent({ type: "error", error: failure, fatal: false }, 2, context)) ?? "";
    const data = error.split("data: ")[1]?.trim() ?? "";
    expect(decodeTroupeMessage({ event: "error", id: "2", data }, helpers)).toMatchObject({
      type: "error",
      fatal: false,
      error: { code: "CALL_FAILED", rank: 1, requestId: "req-1" },
    });
    expect(decodeTroupeMessage({ event: "queued", data: '{"position":1}' }, helpers)).toEqual({
      type: "queued",
      position: 1,
    });
    expect(decodeTroupeMessage({ event: "surprise", data: "{}" }, helpers)).toBeUndefined();
    expect(() => decodeTroupeMessage({ data: "{}" }, helpers)).toThrow(/unnamed/);
    expect(() => decodeTroupeMessage({ event: "queued", data: "{}" }, helpers)).toThrow(/position/);
  });
});

describe("dialectOf", () => {
  it("reads the troupe-dialect header: absent or fal is fal's, troupe is troupe's, anything else none", () => {
    expect(dialectOf(undefined)).toBe("fal");
    expect(dialectOf("fal")).toBe("fal");
    expect(dialectOf(" Troupe ")).toBe("troupe");
    expect(dialectOf(["troupe", "fal"])).toBe("troupe");
    expect(dialectOf("1")).toBeUndefined();
  });
});
