import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/errors.ts";
import { encodeFrame } from "../../src/ipc/control-frame.ts";
import { FrameDecoder } from "../../src/ipc/frame-decoder.ts";
import { parseRankMessage } from "../../src/ipc/parse-message.ts";
import { encodeResultFrame, encodeResultsFrame } from "../../src/ipc/results-frame.ts";
import { decodeValue, encodeValue } from "../../src/ipc/value-codec.ts";
import { concatBytes, mulberry32, unevenChunks } from "./support/prng.ts";

describe("encodeResultFrame (one result, encoded into its frame)", () => {
  it("gives the bytes encodeResultsFrame gives for that result alone, whatever its size", () => {
    const values: unknown[] = [
      { i: 0, sent: 1234.5 },
      null,
      "é".repeat(5000),
      new Float32Array([1, 2, 3]),
      Array.from({ length: 3000 }, (_, i) => ({ i })),
    ];
    // Several rounds, so some frames start near the end of MessagePack's shared buffer.
    for (let round = 0; round < 20; round++) {
      for (const value of values) {
        const frame = encodeResultFrame(round, value);
        expect([...frame]).toEqual([...encodeResultsFrame(round, [encodeValue(value)])]);
      }
    }
  });

  it("keeps a frame of msgpackr's branch intact while later values are encoded", () => {
    const frame = encodeResultFrame(1, { kept: new Float64Array([1.5]) });
    const before = [...frame];
    for (let i = 0; i < 2000; i++) encodeValue({ filler: "y".repeat(i % 50) });
    expect([...frame]).toEqual(before);
  });

  it("gives undefined with plainOnly for a value that is not plain data, and its frame without", () => {
    const value = { bytes: new Uint8Array([1, 2]) };
    expect(encodeResultFrame(5, value, true)).toBeUndefined();
    expect([...encodeResultFrame(5, value)]).toEqual([
      ...encodeResultsFrame(5, [encodeValue(value)]),
    ]);
  });
});

describe("encodeResultsFrame (the raw layout of results frames)", () => {
  const items = [encodeValue({ i: 0 }), new Uint8Array(0), encodeValue("é".repeat(300))];

  it("decodes to the same message a MessagePack frame gives, across any chunk boundaries", () => {
    const frames = concatBytes([
      encodeResultsFrame(7, items),
      encodeFrame({ t: "log", level: "info", msg: "between" }),
      encodeResultsFrame(8, []),
    ]);
    const random = mulberry32(11);
    for (let round = 0; round < 50; round++) {
      const decoder = new FrameDecoder();
      const out = unevenChunks(frames, random, 17).flatMap((chunk) => decoder.push(chunk));
      const bytes = (m: unknown) => {
        const message = parseRankMessage(m);
        return message.t === "results"
          ? { ...message, items: message.items.map((item) => [...item]) }
          : message;
      };
      expect(out.map(bytes)).toEqual([
        { t: "results", id: 7, items: items.map((item) => [...item]) },
        { t: "log", level: "info", msg: "between" },
        { t: "results", id: 8, items: [] },
      ]);
      expect(decoder.buffered).toBe(0);
    }
  });

  it("carries latest-wins keys (UTF-8, empty, or none) beside their items", () => {
    const keys = ["preview", null, "", "é-ключ"];
    const frames = concatBytes([
      encodeResultsFrame(5, [...items, encodeValue(4)], keys),
      encodeResultsFrame(6, [encodeValue("alone")], [null]),
    ]);
    const random = mulberry32(5);
    for (let round = 0; round < 30; round++) {
      const decoder = new FrameDecoder();
      const out = unevenChunks(frames, random, 13)
        .flatMap((chunk) => decoder.push(chunk))
        .map((m) => {
          const message = parseRankMessage(m);
          if (message.t !== "results") throw new Error(`decoded a ${message.t} message`);
          return { ...message, items: message.items.map((item) => [...item]) };
        });
      expect(out).toEqual([
        { t: "results", id: 5, items: [...items, encodeValue(4)].map((i) => [...i]), keys },
        { t: "results", id: 6, items: [[...encodeValue("alone")]], keys: [null] },
      ]);
    }
  });

  it("rejects a key that runs past the frame, or is not UTF-8", () => {
    const frame = encodeResultsFrame(1, [Uint8Array.of(9)], ["ab"]);
    const long = frame.slice();
    new DataView(long.buffer).setUint32(4 + 9, 50);
    expect(() => new FrameDecoder().push(long)).toThrow(/key 0 of 1 runs past its end/);
    const invalid = frame.slice();
    invalid.set([0xff, 0xfe], 4 + 9 + 4);
    expect(() => new FrameDecoder().push(invalid)).toThrow(
      "Results frame: key 0 of 1 is not UTF-8",
    );
  });

  it("is passed through by parseRankMessage as decoded, while a MessagePack one is checked", () => {
    const [raw] = new FrameDecoder().push(encodeResultsFrame(3, items, [null, "k", null]));
    expect(parseRankMessage(raw)).toBe(raw);
    const [packed] = new FrameDecoder().push(encodeFrame({ t: "results", id: 3, items: [] }));
    expect(parseRankMessage(packed)).not.toBe(packed);
    expect(() => parseRankMessage({ t: "results", id: 3, items: ["not bytes"] })).toThrow(
      ProtocolError,
    );
  });

  it("gives plain Uint8Array items, even from a Buffer chunk", () => {
    const [message] = new FrameDecoder().push(Buffer.from(encodeResultsFrame(1, items)));
    const decoded = parseRankMessage(message) as unknown as { items: Uint8Array[] };
    expect(decoded.items.every((item) => item.constructor === Uint8Array)).toBe(true);
    expect(decodeValue(decoded.items[2] as Uint8Array)).toBe("é".repeat(300));
  });

  it("rejects an item that runs past the frame, and bytes after the last item", () => {
    const frame = encodeResultsFrame(1, [new Uint8Array([1, 2, 3])]);
    const view = new DataView(frame.buffer);
    const lying = frame.slice();
    new DataView(lying.buffer).setUint32(4 + 9, 50);
    expect(() => new FrameDecoder().push(lying)).toThrow(/item 0 of 1 runs past its end/);
    const moreItems = frame.slice();
    new DataView(moreItems.buffer).setUint32(4 + 5, 2);
    expect(() => new FrameDecoder().push(moreItems)).toThrow(/item 1 of 2 runs past its end/);
    const fewer = frame.slice();
    new DataView(fewer.buffer).setUint32(4 + 5, 0);
    expect(() => new FrameDecoder().push(fewer)).toThrow(/7 bytes after its last item/);
    const short = new Uint8Array([0, 0, 0, 3, 0xc1, 0, 0]);
    expect(() => new FrameDecoder().push(short)).toThrow(/Truncated results frame of 3 bytes/);
    expect(view.getUint32(0)).toBe(frame.byteLength - 4);
  });
});
