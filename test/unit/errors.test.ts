import { describe, expect, it } from "vitest";
import { CollectiveTimeoutError } from "../../src/collectives/errors.ts";
import {
  abortReason,
  deserializeError,
  ErrorCode,
  GroupUnavailableError,
  InvalidArgumentError,
  InvalidPayloadError,
  InvalidWorkerError,
  isAbortError,
  ProtocolError,
  RemoteError,
  RequestTimeoutError,
  RunnerStateError,
  type SerializedError,
  SetupError,
  StartTimeoutError,
  StreamedError,
  StreamIdleError,
  StreamOverflowError,
  serializeError,
  TroupeError,
  type TroupeErrorOptions,
  WorkerCallError,
  WorkerExitedError,
} from "../../src/errors.ts";
import { decodeValue, encodeValue } from "../../src/ipc/index.ts";

type ErrorClass = new (message: string, options?: TroupeErrorOptions) => TroupeError;

/** Serializes, sends through the wire encoding, and rebuilds. */
function acrossTheWire(error: unknown): Error {
  const wire = decodeValue(encodeValue(serializeError(error))) as SerializedError;
  return deserializeError(wire);
}

const subclasses: [ErrorClass, string][] = [
  [InvalidArgumentError, ErrorCode.INVALID_ARGUMENT],
  [InvalidWorkerError, ErrorCode.INVALID_WORKER],
  [InvalidPayloadError, ErrorCode.INVALID_PAYLOAD],
  [StartTimeoutError, ErrorCode.START_TIMEOUT],
  [SetupError, ErrorCode.SETUP_FAILED],
  [WorkerCallError, ErrorCode.CALL_FAILED],
  [WorkerExitedError, ErrorCode.WORKER_EXITED],
  [RequestTimeoutError, ErrorCode.REQUEST_TIMEOUT],
  [StreamIdleError, ErrorCode.STREAM_IDLE],
  [StreamOverflowError, ErrorCode.STREAM_OVERFLOW],
  [GroupUnavailableError, ErrorCode.GROUP_UNAVAILABLE],
  [ProtocolError, ErrorCode.PROTOCOL_ERROR],
];

describe("serializeError / deserializeError", () => {
  it.each(subclasses.map(([Class, code]) => [Class.name, Class, code] as const))(
    "rebuilds a %s with its class, code, rank, details, stack and cause chain",
    (name, Class, code) => {
      const root = new RangeError("root cause");
      const middle = new TypeError("middle", { cause: root });
      const original = new Class(`${name} happened`, {
        rank: 3,
        cause: middle,
        details: { exitCode: 1, signal: null, ranks: [0, 2], timeout: 250, flag: true, why: "x" },
      });
      const rebuilt = acrossTheWire(original);

      expect(rebuilt).toBeInstanceOf(Class);
      expect(rebuilt).toBeInstanceOf(TroupeError);
      const error = rebuilt as TroupeError;
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
      expect(error.message).toBe(`${name} happened`);
      expect(error.rank).toBe(3);
      expect(error.details).toEqual(original.details);
      expect(error.stack).toBe(original.stack);

      const cause = error.cause as Error;
      expect(cause).toBeInstanceOf(RemoteError);
      expect(cause.name).toBe("TypeError");
      expect(cause.message).toBe("middle");
      expect(cause.stack).toBe(middle.stack);
      const rootCause = cause.cause as Error;
      expect(rootCause).toBeInstanceOf(RemoteError);
      expect(rootCause.name).toBe("RangeError");
      expect(rootCause.message).toBe("root cause");
      expect(rootCause.cause).toBeUndefined();
    },
  );

  it("rebuilds a troupe error nested as the cause of another as its own class", () => {
    const inner = new WorkerExitedError("Rank 1 exited with code 9", {
      rank: 1,
      details: { exitCode: 9 },
    });
    const outer = new WorkerCallError("Rank 1 failed", { rank: 1, cause: inner });
    const rebuilt = acrossTheWire(outer);
    expect(rebuilt).toBeInstanceOf(WorkerCallError);
    expect(rebuilt.cause).toBeInstanceOf(WorkerExitedError);
    expect((rebuilt.cause as WorkerExitedError).details).toEqual({ exitCode: 9 });
  });

  it("leaves out rank, details, code and cause when the error has none", () => {
    const serialized = serializeError(new InvalidArgumentError("bad"));
    expect(Object.keys(serialized).sort()).toEqual(["code", "message", "name", "stack"]);
    const plain = serializeError(new Error("plain"));
    expect(Object.keys(plain).sort()).toEqual(["message", "name", "stack"]);
  });

  it("gives a rebuilt error without rank undefined rank and empty details", () => {
    const rebuilt = acrossTheWire(new StreamIdleError("idle")) as StreamIdleError;
    expect(rebuilt).toBeInstanceOf(StreamIdleError);
    expect(rebuilt.rank).toBeUndefined();
    expect(rebuilt.details).toEqual({});
    expect(rebuilt.cause).toBeUndefined();
  });

  it("turns detail values into JSON data (strings where JSON has none) so the error stays sendable", () => {
    const error = new SetupError("s", { details: { big: 5n, when: new Date(0), list: [1, "a"] } });
    const serialized = serializeError(error);
    expect(serialized.details).toEqual({ big: "5", when: new Date(0).toJSON(), list: [1, "a"] });
    expect(() => encodeValue(serialized)).not.toThrow();
  });

  it("is what JSON.stringify writes for a troupe error", () => {
    const error = new RequestTimeoutError("too slow", { rank: 0, details: { timeout: 10 } });
    expect(JSON.parse(JSON.stringify(error))).toEqual(serializeError(error));
    expect(JSON.parse(JSON.stringify({ error }))).toEqual({ error: serializeError(error) });
  });

  it("rebuilds a plain Error as a RemoteError that keeps name, message and stack", () => {
    const original = new SyntaxError("Unexpected token");
    const rebuilt = acrossTheWire(original);
    expect(rebuilt).toBeInstanceOf(RemoteError);
    expect(rebuilt).toBeInstanceOf(Error);
    expect(rebuilt.name).toBe("SyntaxError");
    expect(rebuilt.message).toBe("Unexpected token");
    expect(rebuilt.stack).toBe(original.stack);
    expect((rebuilt as RemoteError).code).toBeUndefined();
  });

  it("keeps the string code of a foreign error such as a Node.js system error", () => {
    const original = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    const rebuilt = acrossTheWire(original) as RemoteError;
    expect(rebuilt).toBeInstanceOf(RemoteError);
    expect(rebuilt.code).toBe("ENOENT");
  });

  it("drops a numeric code, which is not one of troupe's string codes", () => {
    const original = Object.assign(new Error("x"), { code: 20 });
    expect(serializeError(original).code).toBeUndefined();
  });

  it("does not trust a troupe class name that comes without a code", () => {
    const rebuilt = deserializeError({ name: "ProtocolError", message: "forged" });
    expect(rebuilt).not.toBeInstanceOf(ProtocolError);
    expect(rebuilt).toBeInstanceOf(RemoteError);
    expect(rebuilt.name).toBe("ProtocolError");
  });

  it("rebuilds an unknown error name with a code as a RemoteError carrying that code", () => {
    const rebuilt = deserializeError({ name: "CustomError", code: "E_CUSTOM", message: "m" });
    expect(rebuilt).toBeInstanceOf(RemoteError);
    expect((rebuilt as RemoteError).code).toBe("E_CUSTOM");
    expect(rebuilt.name).toBe("CustomError");
  });

  it("rebuilds the TroupeError base class with its code, rank and cause", () => {
    const original = new TroupeError("CUSTOM_CODE", "custom", { rank: 4, cause: new Error("c") });
    const rebuilt = acrossTheWire(original) as TroupeError;
    expect(rebuilt).toBeInstanceOf(TroupeError);
    expect(rebuilt.code).toBe("CUSTOM_CODE");
    expect(rebuilt.rank).toBe(4);
    expect((rebuilt.cause as Error).message).toBe("c");
    expect(rebuilt.stack).toBe(original.stack);
  });

  // BUG (src/errors.ts, deserializeError): the TroupeError branch passes rank and cause but not
  // `details`, so a base TroupeError loses its details on the way across.
  it("keeps the details of a TroupeError base-class error", () => {
    const original = new TroupeError("CUSTOM_CODE", "custom", { details: { attempt: 2 } });
    expect((acrossTheWire(original) as TroupeError).details).toEqual({ attempt: 2 });
  });

  // BUG (src/errors.ts): StreamedError is missing from the `constructors` table, so it comes
  // back as a RemoteError (instanceof StreamedError false, rank and details lost).
  it("rebuilds a StreamedError as a StreamedError", () => {
    const original = new StreamedError("minor", { rank: 1, details: { step: 3 } });
    const rebuilt = acrossTheWire(original);
    expect(rebuilt).toBeInstanceOf(StreamedError);
    expect((rebuilt as StreamedError).rank).toBe(1);
  });

  it("rebuilds a RunnerStateError as a RunnerStateError with its code", () => {
    const original = new RunnerStateError(ErrorCode.NOT_STARTED, "Call start() first");
    const rebuilt = acrossTheWire(original);
    expect(rebuilt).toBeInstanceOf(RunnerStateError);
    expect((rebuilt as RunnerStateError).code).toBe(ErrorCode.NOT_STARTED);
  });

  it("rebuilds a process-group error thrown in a rank as its own class with its details", () => {
    const original = new CollectiveTimeoutError("all_reduce timed out", {
      rank: 1,
      details: { missingRanks: [2] },
    });
    const rebuilt = acrossTheWire(original);
    expect(rebuilt).toBeInstanceOf(CollectiveTimeoutError);
    expect((rebuilt as CollectiveTimeoutError).details).toEqual({ missingRanks: [2] });
  });

  it("keeps name, code and rank of a process-group error", () => {
    const rebuilt = acrossTheWire(new CollectiveTimeoutError("t", { rank: 1 }));
    expect(rebuilt.name).toBe("CollectiveTimeoutError");
    expect(rebuilt).toMatchObject({ code: "COLLECTIVE_TIMEOUT", rank: 1 });
  });

  it.each([
    ["a string", "boom", "boom"],
    ["an object", { reason: "quota", left: 0 }, '{"reason":"quota","left":0}'],
    ["a number", 42, "42"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["a bigint", 7n, "7"],
    ["a symbol", Symbol("sym"), "Symbol(sym)"],
  ])("turns a thrown %s into an Error whose message describes it", (_what, thrown, message) => {
    const serialized = serializeError(thrown);
    expect(serialized).toEqual({ name: "Error", message });
    const rebuilt = acrossTheWire(thrown);
    expect(rebuilt).toBeInstanceOf(RemoteError);
    expect(rebuilt.name).toBe("Error");
    expect(rebuilt.message).toBe(message);
  });

  it("describes a thrown object with a cycle instead of failing", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(serializeError(cyclic)).toEqual({ name: "Error", message: "[object Object]" });
  });

  it("serializes a non-Error cause as a described Error", () => {
    const error = new SetupError("setup", { cause: "disk full" });
    expect(serializeError(error).cause).toEqual({ name: "Error", message: "disk full" });
    const rebuilt = acrossTheWire(error);
    expect((rebuilt.cause as Error).message).toBe("disk full");
  });

  it("bounds the cause chain to 8 causes below the error", () => {
    let error: Error = new Error("level 20");
    for (let level = 19; level >= 0; level--) {
      error = new Error(`level ${level}`, { cause: error });
    }
    let serialized: SerializedError | undefined = serializeError(error);
    const levels: string[] = [];
    while (serialized !== undefined) {
      levels.push(serialized.message);
      serialized = serialized.cause;
    }
    expect(levels).toEqual(Array.from({ length: 9 }, (_, i) => `level ${i}`));
  });

  it("does not loop on an error whose cause is itself", () => {
    const error = new Error("self");
    (error as { cause?: unknown }).cause = error;
    let depth = 0;
    for (let s: SerializedError | undefined = serializeError(error); s; s = s.cause) depth++;
    expect(depth).toBe(9);
  });
});

describe("isAbortError", () => {
  it("is true for the DOMException an aborted AbortController rejects with", () => {
    const controller = new AbortController();
    controller.abort();
    expect(isAbortError(controller.signal.reason)).toBe(true);
  });

  it("is true for any Error named AbortError", () => {
    const error = new Error("stop");
    error.name = "AbortError";
    expect(isAbortError(error)).toBe(true);
  });

  it("is false for a timeout, other errors, and non-errors that look like one", () => {
    expect(isAbortError(new DOMException("t", "TimeoutError"))).toBe(false);
    expect(isAbortError(new Error("AbortError"))).toBe(false);
    expect(isAbortError({ name: "AbortError", message: "x" })).toBe(false);
    expect(isAbortError("AbortError")).toBe(false);
    expect(isAbortError(undefined)).toBe(false);
  });
});

describe("abortReason", () => {
  it("returns the signal's reason when it is an Error", () => {
    const controller = new AbortController();
    const reason = new RequestTimeoutError("late");
    controller.abort(reason);
    expect(abortReason(controller.signal)).toBe(reason);
  });

  it("returns the default AbortError of abort() called without a reason", () => {
    const controller = new AbortController();
    controller.abort();
    const reason = abortReason(controller.signal);
    expect(reason).toBe(controller.signal.reason);
    expect(isAbortError(reason)).toBe(true);
  });

  it.each([
    ["a string", "client left", "client left"],
    ["a number", 42, "42"],
    ["an object", { why: 1 }, "[object Object]"],
  ])("wraps %s reason in an AbortError whose message is the reason", (_what, reason, message) => {
    const controller = new AbortController();
    controller.abort(reason);
    const error = abortReason(controller.signal);
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe("AbortError");
    expect(error.message).toBe(message);
    expect(isAbortError(error)).toBe(true);
  });

  it("gives an AbortError with a generic message for a signal that has no reason", () => {
    const error = abortReason(new AbortController().signal);
    expect(error.name).toBe("AbortError");
    expect(error.message).toBe("This operation was aborted");
  });

  it("returns a TimeoutError reason, as AbortSignal.timeout gives, unchanged", () => {
    const signal = AbortSignal.abort(new DOMException("timed out", "TimeoutError"));
    const error = abortReason(signal);
    expect(error.name).toBe("TimeoutError");
    expect(isAbortError(error)).toBe(false);
  });
});

describe("TroupeError.isInstance", () => {
  it("recognises a troupe error made by another copy of the package, which instanceof does not", () => {
    // Another copy's error: its own class, carrying the registered marker.
    class OtherCopyError extends Error {
      override name = "WorkerCallError";
      readonly code = "CALL_FAILED";
    }
    const foreign = Object.assign(new OtherCopyError("boom"), {
      [Symbol.for("troupe.TroupeError")]: true,
    });
    expect(foreign instanceof TroupeError).toBe(false);
    expect(TroupeError.isInstance(foreign)).toBe(true);
    expect(WorkerCallError.isInstance(foreign)).toBe(true);
    expect(SetupError.isInstance(foreign)).toBe(false);
  });

  it("says no to plain errors, lookalikes without the marker, and non-objects", () => {
    expect(TroupeError.isInstance(new Error("x"))).toBe(false);
    expect(TroupeError.isInstance({ code: "CALL_FAILED", message: "x" })).toBe(false);
    expect(TroupeError.isInstance(null)).toBe(false);
    expect(TroupeError.isInstance("CALL_FAILED")).toBe(false);
  });

  it("checks the class on a subclass", () => {
    const error = new WorkerCallError("boom");
    expect(TroupeError.isInstance(error)).toBe(true);
    expect(WorkerCallError.isInstance(error)).toBe(true);
    expect(StreamIdleError.isInstance(error)).toBe(false);
  });
});

describe("ErrorCode", () => {
  it("is one list holding the runner's, the process group's, the HTTP layer's and the client's codes", () => {
    for (const code of [
      "CALL_FAILED",
      "COLLECTIVE_TIMEOUT",
      "VALIDATION_FAILED",
      "SHUTTING_DOWN",
      "REPLAY_UNAVAILABLE",
      "CONNECTION_FAILED",
      "HTTP_ERROR",
    ]) {
      expect(ErrorCode[code as keyof typeof ErrorCode]).toBe(code);
    }
    // Every code is its own name.
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key);
  });
});
