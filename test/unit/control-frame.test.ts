import { describe, expect, it } from "vitest";
import { encodeFrame } from "../../src/ipc/control-frame.ts";
import { decodeValue } from "../../src/ipc/value-codec.ts";

describe("encodeFrame", () => {
  it("prefixes the MessagePack body with its length as a 4-byte big-endian integer", () => {
    const frame = encodeFrame({ t: "log", level: "info", msg: "x".repeat(300) });
    const length = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0);
    expect(length).toBe(frame.byteLength - 4);
    expect(length).toBeGreaterThan(255);
    expect(decodeValue(frame.subarray(4))).toEqual({
      t: "log",
      level: "info",
      msg: "x".repeat(300),
    });
  });
});
