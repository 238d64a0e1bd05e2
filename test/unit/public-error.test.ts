import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/app/errors.ts";
import { ErrorCode, WorkerCallError } from "../../src/errors.ts";
import { publicError, readPublicError } from "../../src/events/public-error.ts";

describe("publicError", () => {
  it("gives code, message, rank and request id of a troupe error and nothing else", () => {
    const cause = new Error("boom");
    const error = new WorkerCallError("Rank 1 failed: boom", { rank: 1, cause, details: { a: 1 } });
    expect(publicError(error, "req-1")).toEqual({
      name: "WorkerCallError",
      code: "CALL_FAILED",
      message: "Rank 1 failed: boom",
      rank: 1,
      requestId: "req-1",
    });
  });

  it("never carries a stack or a source file's path, even inside the message", () => {
    const error = new Error(
      "Cannot load /home/someone/app/worker.ts:12:3 or file:///srv/x/y.mjs\n    at load (/srv/x/z.js:1:1)",
    );
    const text = JSON.stringify(publicError(error));
    expect(text).not.toMatch(/home|srv|\bat load/);
    expect(publicError(error).message).toBe("Cannot load <file> or <file>");
  });

  it("leaves a route's path in a message alone", () => {
    expect(publicError(new Error("No route POST /nope")).message).toBe("No route POST /nope");
  });

  it("calls a foreign failure INTERNAL, an abort ABORTED, and keeps a foreign string code", () => {
    expect(publicError(new TypeError("x")).code).toBe(ErrorCode.INTERNAL);
    expect(publicError(new DOMException("gone", "AbortError")).code).toBe(ErrorCode.ABORTED);
    const system = Object.assign(new Error("no such file"), { code: "ENOENT" });
    expect(publicError(system).code).toBe("ENOENT");
    expect(publicError("a thrown string")).toMatchObject({
      code: "INTERNAL",
      message: "a thrown string",
    });
  });

  it("carries a validation error's issues", () => {
    const error = new ValidationError("bad", [
      { path: "a.0", message: "Too small", type: "too_small" },
    ]);
    expect(publicError(error).issues).toEqual([{ path: "a.0", message: "Too small" }]);
    expect(error.detail).toEqual([{ loc: ["body", "a", 0], msg: "Too small", type: "too_small" }]);
  });
});

describe("readPublicError", () => {
  it("reads what publicError wrote", () => {
    const wire = publicError(new WorkerCallError("x", { rank: 2 }), "r");
    expect(readPublicError(JSON.parse(JSON.stringify(wire)), "REQUEST_FAILED")).toEqual(wire);
  });

  it("fills what a broken body lacks with the fallback code and a generic message", () => {
    expect(readPublicError("nonsense", "REQUEST_FAILED")).toEqual({
      name: "Error",
      code: "REQUEST_FAILED",
      message: "The request failed",
    });
  });
});
