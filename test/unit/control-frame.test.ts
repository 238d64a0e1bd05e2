import { describe, expect, it } from "vitest";
import { encodeCallFrame, encodeFrame } from "../../src/ipc/control-frame.ts";
import { FrameDecoder } from "../../src/ipc/frame-decoder.ts";
import { parseRunnerMessage } from "../../src/ipc/parse-message.ts";
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

describe("encodeCallFrame", () => {
  const call = (payload: Uint8Array) =>
    ({
      t: "call",
      id: 7,
      requestId: "r-1",
      payload,
      streaming: true,
      imageFormat: "jpeg",
      held: true,
    }) as const;

  it.each([
    ["no bytes", 0],
    ["a few bytes", 3],
    ["past bin 8 and bin 16", 70_000],
    ["an image's worth", 300_000],
  ])("makes the frame encodeFrame makes, for a payload of %s", (_name, size) => {
    const payload = Uint8Array.from({ length: size }, (_, i) => (i * 31) % 256);
    const frame = encodeCallFrame(call(payload));
    const [decoded] = new FrameDecoder().push(frame);
    const { payload: got, ...fields } = parseRunnerMessage(decoded) as ReturnType<typeof call>;
    const { payload: _, ...expected } = call(payload);
    expect(fields).toEqual(expected);
    expect(Buffer.from(got).equals(payload)).toBe(true);
    // Byte for byte where encodeFrame also uses bin 32; shorter payloads it packs in bin 8 or 16.
    if (size >= 65_536) expect(Buffer.from(frame).equals(encodeFrame(call(payload)))).toBe(true);
  });

  it("takes the payload from a view into a larger buffer, and only its bytes", () => {
    const buffer = Uint8Array.from({ length: 100 }, (_, i) => i);
    const payload = buffer.subarray(10, 20);
    expect(new FrameDecoder().push(encodeCallFrame(call(payload)))).toEqual([
      call(Uint8Array.from({ length: 10 }, (_, i) => i + 10)),
    ]);
  });
});
