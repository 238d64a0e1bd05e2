import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/errors.ts";
import { parseRankMessage, parseRunnerMessage } from "../../src/ipc/parse-message.ts";
import { bytes, error } from "./support/messages.ts";

describe("parseRankMessage", () => {
  it("returns only the fields of the message type, dropping unknown extras", () => {
    expect(parseRankMessage({ t: "ready", extra: 1 })).toEqual({ t: "ready" });
    expect(parseRankMessage({ t: "done", id: 1, output: bytes(1), sneaky: true })).toStrictEqual({
      t: "done",
      id: 1,
      output: bytes(1),
    });
  });

  it.each([
    [null, "Expected a message object, got null"],
    [undefined, "Expected a message object, got undefined"],
    [42, "Expected a message object, got number"],
    ["ready", "Expected a message object, got string"],
    [[{ t: "ready" }], "Expected a message object, got an array"],
  ])("rejects the non-object %j with a ProtocolError", (value, message) => {
    expect(() => parseRankMessage(value)).toThrow(ProtocolError);
    expect(() => parseRankMessage(value)).toThrow(message);
  });

  it.each([
    [{ t: "bogus" }, 'Unknown message type "bogus" from a rank'],
    [{}, "Unknown message type undefined from a rank"],
    [{ t: 1 }, "Unknown message type 1 from a rank"],
    [{ t: "call", id: 1 }, 'Unknown message type "call" from a rank'],
  ])("rejects %j, whose type is unknown from a rank, naming the type", (value, message) => {
    expect(() => parseRankMessage(value)).toThrow(ProtocolError);
    expect(() => parseRankMessage(value)).toThrow(message);
  });

  const withId: Record<string, Record<string, unknown>> = {
    results: { t: "results", items: [] },
    streamError: { t: "streamError", error },
    done: { t: "done", output: bytes(null) },
    failed: { t: "failed", error, aborted: false },
  };
  const badIds: unknown[] = [undefined, 0, -1, 1.5, "1", Number.NaN, 2 ** 53, null];

  for (const [t, base] of Object.entries(withId)) {
    it(`rejects a ${t} message whose id is missing, zero, negative, fractional, a string or unsafe`, () => {
      for (const id of badIds) {
        const value = id === undefined ? base : { ...base, id };
        expect(() => parseRankMessage(value), `id ${String(id)}`).toThrow(
          new ProtocolError(`Malformed "${t}" message: \`id\` must be a positive integer`),
        );
      }
      expect(parseRankMessage({ ...base, id: 1 })).toMatchObject({ t, id: 1 });
      expect(parseRankMessage({ ...base, id: 2 ** 53 - 1 })).toMatchObject({ t, id: 2 ** 53 - 1 });
    });
  }

  it.each([
    [{ t: "setupFailed" }, "`error` must be an error object"],
    [{ t: "setupFailed", error: "boom" }, "`error` must be an error object"],
    [{ t: "setupFailed", error: { name: "E" } }, "`error` must have a string name and message"],
    [{ t: "streamError", id: 1, error: null }, "`error` must be an error object"],
    [
      { t: "streamError", id: 1, error: { name: 1, message: "m" } },
      "`error` must have a string name and message",
    ],
    [{ t: "results", id: 1 }, "`items` must be an array of byte arrays"],
    [{ t: "results", id: 1, items: "abc" }, "`items` must be an array of byte arrays"],
    [{ t: "results", id: 1, items: [[1, 2]] }, "`items` must be an array of byte arrays"],
    [
      { t: "results", id: 1, items: [bytes(1)], keys: ["a", "b"] },
      "`keys` must be an array of strings or nulls, one per item",
    ],
    [
      { t: "results", id: 1, items: [bytes(1)], keys: [7] },
      "`keys` must be an array of strings or nulls, one per item",
    ],
    [
      { t: "results", id: 1, items: [bytes(1)], keys: "a" },
      "`keys` must be an array of strings or nulls, one per item",
    ],
    [{ t: "done", id: 1 }, "`output` must be bytes"],
    [{ t: "done", id: 1, output: "out" }, "`output` must be bytes"],
    [{ t: "failed", id: 1, error }, "`aborted` must be a boolean"],
    [{ t: "failed", id: 1, error, aborted: "no" }, "`aborted` must be a boolean"],
    [{ t: "failed", id: 1, aborted: false }, "`error` must be an error object"],
    [{ t: "log", level: "trace", msg: "m" }, "`level` and `msg` must be a log level and a string"],
    [{ t: "log", level: "info", msg: 5 }, "`level` and `msg` must be a log level and a string"],
    [{ t: "log", msg: "m" }, "`level` and `msg` must be a log level and a string"],
  ])("rejects %j with a ProtocolError that names the bad field", (value, problem) => {
    const expected = `Malformed ${JSON.stringify(value.t)} message: ${problem}`;
    expect(() => parseRankMessage(value)).toThrow(ProtocolError);
    expect(() => parseRankMessage(value)).toThrow(expected);
  });

  it("accepts results with null keys and with no keys at all, keeping keys absent when absent", () => {
    const items = [bytes(1), bytes(2)];
    expect(parseRankMessage({ t: "results", id: 1, items, keys: [null, null] })).toEqual({
      t: "results",
      id: 1,
      items,
      keys: [null, null],
    });
    expect("keys" in parseRankMessage({ t: "results", id: 1, items })).toBe(false);
  });

  it("gives parse errors the PROTOCOL_ERROR code", () => {
    try {
      parseRankMessage({ t: "nope" });
      expect.unreachable();
    } catch (thrown) {
      expect(thrown).toBeInstanceOf(ProtocolError);
      expect((thrown as ProtocolError).code).toBe("PROTOCOL_ERROR");
    }
  });
});

describe("parseRunnerMessage", () => {
  it.each([
    [null, "Expected a message object, got null"],
    [7, "Expected a message object, got number"],
    [[], "Expected a message object, got an array"],
  ])("rejects the non-object %j with a ProtocolError", (value, message) => {
    expect(() => parseRunnerMessage(value)).toThrow(ProtocolError);
    expect(() => parseRunnerMessage(value)).toThrow(message);
  });

  it.each([
    [{ t: "ready" }, 'Unknown message type "ready" from the runner'],
    [{ t: "STOP" }, 'Unknown message type "STOP" from the runner'],
    [{ id: 1 }, "Unknown message type undefined from the runner"],
  ])("rejects %j, whose type is unknown from the runner, naming the type", (value, message) => {
    expect(() => parseRunnerMessage(value)).toThrow(ProtocolError);
    expect(() => parseRunnerMessage(value)).toThrow(message);
  });

  const call = {
    t: "call",
    requestId: "r",
    payload: bytes(1),
    streaming: false,
    imageFormat: "jpeg",
    held: true,
  };
  const cancel = { t: "cancel", reason: error };

  it.each([
    ["call", call],
    ["go", { t: "go" }],
    ["cancel", cancel],
  ])(
    "rejects a %s message whose id is missing, zero, negative, fractional or a string",
    (t, base) => {
      for (const id of [undefined, 0, -1, 1.5, "1", Number.POSITIVE_INFINITY]) {
        const value = id === undefined ? base : { ...base, id };
        expect(() => parseRunnerMessage(value), `id ${String(id)}`).toThrow(
          new ProtocolError(`Malformed "${t}" message: \`id\` must be a positive integer`),
        );
      }
    },
  );

  const config = {
    streamAllRanks: false,
    maxPendingBytes: 10,
    highWaterMark: 2,
    collectiveTimeout: 1000,
  };

  it.each([
    [{ t: "init", worker: 5, config }, "`worker` must be a string"],
    [
      { t: "init", worker: "w", config: { ...config, highWaterMark: "2" } },
      "`config` is incomplete",
    ],
    [
      {
        t: "init",
        worker: "w",
        config: { streamAllRanks: 1, maxPendingBytes: 1, highWaterMark: 1 },
      },
      "`config` is incomplete",
    ],
    [
      { t: "init", worker: "w", config: { streamAllRanks: true, highWaterMark: 1 } },
      "`config` is incomplete",
    ],
    [
      { ...call, id: 1, requestId: 7 },
      "`requestId` and `streaming` must be a string and a boolean",
    ],
    [
      { ...call, id: 1, streaming: "yes" },
      "`requestId` and `streaming` must be a string and a boolean",
    ],
    [{ ...call, id: 1, payload: [1] }, "`payload` must be bytes"],
    [{ ...call, id: 1, payload: undefined }, "`payload` must be bytes"],
    [{ ...call, id: 1, imageFormat: "gif" }, "`imageFormat` must be jpeg, png or webp"],
    [{ ...call, id: 1, imageFormat: undefined }, "`imageFormat` must be jpeg, png or webp"],
    [{ ...call, id: 1, held: undefined }, "`held` must be a boolean"],
    [{ ...call, id: 1, held: 1 }, "`held` must be a boolean"],
    [{ ...call, id: 1, held: "true" }, "`held` must be a boolean"],
    [{ t: "cancel", id: 1 }, "`reason` must be an error object"],
    [
      { t: "cancel", id: 1, reason: { message: "m" } },
      "`reason` must have a string name and message",
    ],
  ])("rejects %j with a ProtocolError that names the bad field", (value, problem) => {
    const expected = `Malformed ${JSON.stringify(value.t)} message: ${problem}`;
    expect(() => parseRunnerMessage(value)).toThrow(ProtocolError);
    expect(() => parseRunnerMessage(value)).toThrow(expected);
  });

  it("rejects an init message without a config object with a ProtocolError", () => {
    expect(() => parseRunnerMessage({ t: "init", worker: "w" })).toThrow(ProtocolError);
    expect(() => parseRunnerMessage({ t: "init", worker: "w", config: [] })).toThrow(ProtocolError);
  });

  // BUG (src/ipc/parse-message.ts, parseRunnerMessage "init"): a missing or non-object `config` is
  // checked with asRecord(), whose message ("Expected a message object, got undefined") neither
  // says the message is a malformed init nor names `config`.
  it("names `config` when an init message has none", () => {
    expect(() => parseRunnerMessage({ t: "init", worker: "w" })).toThrow(/config/);
  });

  it("keeps a call's held flag, either way, and only the id of a go message", () => {
    for (const held of [true, false]) {
      expect(parseRunnerMessage({ ...call, id: 3, held })).toStrictEqual({ ...call, id: 3, held });
    }
    expect(parseRunnerMessage({ t: "go", id: 4, held: true, extra: 1 })).toStrictEqual({
      t: "go",
      id: 4,
    });
  });

  it("rejects go from a rank: only the runner sends it", () => {
    expect(() => parseRankMessage({ t: "go", id: 1 })).toThrow(
      new ProtocolError('Unknown message type "go" from a rank'),
    );
  });

  it("keeps only the known config fields of an init message", () => {
    const parsed = parseRunnerMessage({
      t: "init",
      worker: "file:///w.ts",
      setup: undefined,
      config: { ...config, secret: "x" },
      other: 1,
    });
    expect(parsed).toStrictEqual({ t: "init", worker: "file:///w.ts", setup: undefined, config });
  });
});
