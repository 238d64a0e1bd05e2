import { createParser, type EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { SSE_PARSER_SOURCE } from "./page-sse-parser.ts";

interface PageEvent {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
  readonly lastEventId: string;
}

interface PageParser {
  feed(bytes: Uint8Array): void;
  end(): void;
}

type Handlers = {
  onEvent(event: PageEvent): void;
  onComment?(comment: string): void;
  onRetry?(ms: number): void;
};

// The page's source, evaluated as the page evaluates it.
const createSseParser = new Function(`${SSE_PARSER_SOURCE}\nreturn createSseParser;`)() as (
  handlers: Handlers,
) => PageParser;

interface Seen {
  readonly events: { event: string; data: string; id: string | undefined }[];
  readonly comments: string[];
  readonly retries: number[];
}

function parseInChunks(bytes: Uint8Array, cuts: readonly number[]): Seen {
  const seen: Seen = { events: [], comments: [], retries: [] };
  const parser = createSseParser({
    onEvent: ({ event, data, id }) => seen.events.push({ event, data, id }),
    onComment: (comment) => seen.comments.push(comment),
    onRetry: (ms) => seen.retries.push(ms),
  });
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    parser.feed(bytes.subarray(from, cut));
    from = cut;
  }
  parser.end();
  return seen;
}

/** What eventsource-parser makes of the same text, in the page parser's terms. */
function reference(text: string): Seen {
  const seen: Seen = { events: [], comments: [], retries: [] };
  const parser = createParser({
    onEvent: (e: EventSourceMessage) =>
      seen.events.push({ event: e.event ?? "message", data: e.data, id: e.id }),
    onComment: (comment) => seen.comments.push(comment),
    onRetry: (ms) => seen.retries.push(ms),
  });
  parser.feed(text);
  return seen;
}

const encode = (text: string) => new TextEncoder().encode(text);

// One of everything: CRLF, CR and LF line ends, a comment, named events, ids, multi-line data,
// a field without a space or a colon, retry, and 2-, 3- and 4-byte UTF-8 characters.
const MIXED =
  "retry: 1500\r\n" +
  ": ping\n\n" +
  'data: {"step":0,"text":"é—🙂"}\r\n\r\n' +
  "event: result\rid: 1\rdata:line one\rdata: line two\r\r" +
  "id: 2\nevent: done\ndata\ndata: 🌅 ünïcödé\n\n" +
  "event: error\nid: 3\ndata: {}\n\n" +
  "id: only-an-id\n\n" +
  "data: unfinished";

describe("the playground page's SSE parser", () => {
  it("reads a stream with every kind of line the same whichever byte it is cut at", () => {
    const bytes = encode(MIXED);
    const whole = parseInChunks(bytes, []);
    expect(whole).toEqual(reference(MIXED));
    expect(whole.events.map((e) => e.event)).toEqual(["message", "result", "done", "error"]);
    expect(whole.events[0]?.data).toBe('{"step":0,"text":"é—🙂"}');
    expect(whole.events[1]).toEqual({ event: "result", data: "line one\nline two", id: "1" });
    expect(whole.events[2]).toEqual({ event: "done", data: "\n🌅 ünïcödé", id: "2" });
    expect(whole.comments).toEqual(["ping"]);
    expect(whole.retries).toEqual([1500]);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(parseInChunks(bytes, [cut]), `cut at byte ${cut}`).toEqual(whole);
    }
  });

  it("reads a stream fed one byte at a time", () => {
    const bytes = encode(MIXED);
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(parseInChunks(bytes, cuts)).toEqual(reference(MIXED));
  });

  it("agrees with eventsource-parser on random streams cut at random places", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pieces = [
      "data",
      "event",
      "id",
      "retry",
      ":",
      ": ",
      " ",
      "x",
      "é",
      "🙂",
      "\n",
      "\r",
      "\r\n",
    ];
    for (let round = 0; round < 500; round++) {
      let text = "";
      const length = Math.floor(random() * 60);
      for (let i = 0; i < length; i++) text += pieces[Math.floor(random() * pieces.length)];
      const bytes = encode(text);
      const cuts = [
        ...new Set(Array.from({ length: 3 }, () => Math.floor(random() * bytes.length))),
      ]
        .filter((cut) => cut > 0)
        .sort((a, b) => a - b);
      const expected = reference(text);
      // eventsource-parser only hands over what a line end completed; a final unterminated
      // line is dropped by both.
      expect(parseInChunks(bytes, cuts), JSON.stringify({ text, cuts })).toEqual(expected);
    }
  });

  it("drops an event the stream ends before finishing", () => {
    expect(parseInChunks(encode("data: a\n\ndata: b\n"), []).events).toEqual([
      { event: "message", data: "a", id: undefined },
    ]);
  });

  it("keeps the last event id for events that carry none", () => {
    const ids: [string | undefined, string][] = [];
    const parser = createSseParser({ onEvent: (e) => ids.push([e.id, e.lastEventId]) });
    parser.feed(encode("id: 7\ndata: a\n\ndata: b\n\n"));
    expect(ids).toEqual([
      ["7", "7"],
      [undefined, "7"],
    ]);
  });
});
