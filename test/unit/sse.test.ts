import { describe, expect, it } from "vitest";
import { encodeDataEvent, encodeEvent, type SseFields } from "../../src/events/sse-fields.ts";
import { SSE_CONTENT_TYPE, SseEvent } from "../../src/events/sse-names.ts";
import { concatBytes, mulberry32, unevenChunks } from "./support/prng.ts";

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

interface ParsedEvent {
  event: string;
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

/**
 * A small incremental parser following the HTML spec's event-stream interpretation. Chunks are
 * decoded with a streaming TextDecoder (multi-byte characters may be split anywhere) and lines are
 * cut as they complete; a CR at the end of a chunk waits, as it may be half of a CRLF.
 */
function parseEventStream(chunks: readonly Uint8Array[]): ParsedEvent[] {
  const decoder = new TextDecoder();
  const events: ParsedEvent[] = [];
  let data: string[] = [];
  let event = "";
  let id: string | undefined;
  let retry: number | undefined;
  let pending = "";

  const processLine = (line: string): void => {
    if (line === "") {
      if (data.length > 0) {
        events.push({ event: event || "message", data: data.join("\n"), id, retry });
      }
      data = [];
      event = "";
      retry = undefined;
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id") id = value;
    else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
  };

  const cutLines = (final: boolean): void => {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(pending);
      if (match === null) return;
      if (!final && match[0] === "\r" && match.index === pending.length - 1) return;
      processLine(pending.slice(0, match.index));
      pending = pending.slice(match.index + match[0].length);
    }
  };

  for (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    cutLines(false);
  }
  pending += decoder.decode();
  cutLines(true);
  return events;
}

describe("encodeDataEvent", () => {
  it("writes `data: <json>` and a blank line, byte for byte", () => {
    expect(encodeDataEvent('{"step":1}')).toEqual(
      new Uint8Array([
        0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0x7b, 0x22, 0x73, 0x74, 0x65, 0x70, 0x22, 0x3a, 0x31,
        0x7d, 0x0a, 0x0a,
      ]),
    );
  });

  it("encodes non-ASCII text as UTF-8", () => {
    expect(encodeDataEvent('"é😀"')).toEqual(
      new Uint8Array([
        ...new TextEncoder().encode("data: "),
        0x22,
        0xc3,
        0xa9,
        0xf0,
        0x9f,
        0x98,
        0x80,
        0x22,
        0x0a,
        0x0a,
      ]),
    );
  });
});

describe("encodeEvent", () => {
  it("writes event, id, retry and data in that order, ending with a blank line", () => {
    expect(text(encodeEvent({ data: "{}", event: "error", id: "7", retry: 1500 }))).toBe(
      "event: error\nid: 7\nretry: 1500\ndata: {}\n\n",
    );
  });

  it("writes only a data line when no other field is given", () => {
    expect(text(encodeEvent({ data: "x" }))).toBe("data: x\n\n");
  });

  it("drops the fraction of a retry interval", () => {
    expect(text(encodeEvent({ data: "", retry: 2500.9 }))).toBe("retry: 2500\ndata: \n\n");
  });

  it("splits multi-line data into one data line per line, for LF, CRLF and CR breaks", () => {
    expect(text(encodeEvent({ data: "one\ntwo\r\nthree\rfour" }))).toBe(
      "data: one\ndata: two\ndata: three\ndata: four\n\n",
    );
  });

  it("keeps empty lines of the data, including a trailing line break", () => {
    expect(text(encodeEvent({ data: "a\n\nb\n" }))).toBe("data: a\ndata: \ndata: b\ndata: \n\n");
  });

  it.each([
    ["event", { data: "x", event: "bad\nname" }, '"bad\\nname"'],
    ["event", { data: "x", event: "bad\rname" }, '"bad\\rname"'],
    ["event", { data: "x", event: "nul\u0000" }, '"nul\\u0000"'],
    ["id", { data: "x", id: "1\r\n2" }, '"1\\r\\n2"'],
  ])("rejects a line break or NUL in the %s field, naming the value", (_field, fields, shown) => {
    expect(() => encodeEvent(fields as SseFields)).toThrow(TypeError);
    expect(() => encodeEvent(fields as SseFields)).toThrow(
      `SSE field values cannot hold line breaks or NUL, got ${shown}`,
    );
  });

  it("produces events a spec-following parser reads back, however the bytes are split", () => {
    const events: SseFields[] = [
      { data: '{"step":1,"text":"héllo"}' },
      { data: "line one\nline two 😀\r\nline three", event: SseEvent.error, id: "42" },
      { data: "", event: "empty" },
      { data: "ünïcödé ✓", retry: 3000 },
    ];
    const bytes = concatBytes(events.map(encodeEvent));
    const expected = [
      { event: "message", data: '{"step":1,"text":"héllo"}', id: undefined, retry: undefined },
      { event: "error", data: "line one\nline two 😀\nline three", id: "42", retry: undefined },
      { event: "empty", data: "", id: "42", retry: undefined },
      { event: "message", data: "ünïcödé ✓", id: "42", retry: 3000 },
    ];
    for (let split = 0; split <= bytes.byteLength; split++) {
      expect(parseEventStream([bytes.subarray(0, split), bytes.subarray(split)])).toEqual(expected);
    }
    const random = mulberry32(7);
    for (let round = 0; round < 50; round++) {
      expect(parseEventStream(unevenChunks(bytes, random, 9))).toEqual(expected);
    }
  });
});

describe("SSE constants", () => {
  it("names the content type and the error event", () => {
    expect(SSE_CONTENT_TYPE).toBe("text/event-stream");
    expect(SseEvent.error).toBe("error");
  });
});
