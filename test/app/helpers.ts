import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { pino } from "pino";
import { type AppClass, type ServeOptions, type ServerHandle, serve } from "../../src/app/index.ts";

/**
 * A pino logger whose JSON lines are kept, parsed and as written, for assertions; `line(test)`
 * waits for the first line `test` holds for.
 */
export function recordingPino(level: pino.LevelWithSilent = "info"): {
  logger: pino.Logger;
  lines: Record<string, unknown>[];
  raw: string[];
  line(test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
} {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  type Line = Record<string, unknown>;
  let waiters: { test: (line: Line) => boolean; resolve: (line: Line) => void }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split("\n")) {
        if (text === "") continue;
        raw.push(text);
        const line = JSON.parse(text) as Record<string, unknown>;
        lines.push(line);
        const met = waiters.filter((w) => w.test(line));
        waiters = waiters.filter((w) => !met.includes(w));
        for (const w of met) w.resolve(line);
      }
      callback();
    },
  });
  return {
    logger: pino({ level }, destination),
    lines,
    raw,
    line(test) {
      const found = lines.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ test, resolve }));
    },
  };
}

/** Serves `App` on port 0 with a silent logger unless one is given. */
export function serveForTest(App: AppClass, options: ServeOptions = {}): Promise<ServerHandle> {
  return serve(App, { port: 0, logger: pino({ level: "silent" }), ...options });
}

export function postJson(
  server: ServerHandle,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/**
 * An HTTP/1.1 exchange over a plain socket: every byte the server sends is kept, so tests can
 * check exact bytes, wait for a given text, stop reading, or vanish mid-stream. It sends
 * `connection: close` unless told otherwise, so `ended` resolves when the response is over;
 * `body` is the payload with the chunked framing taken off, `complete` whether the terminating
 * chunk came (a clean end) or the connection ended without it (an aborted response).
 */
export class RawExchange {
  private readonly chunks: Buffer[] = [];
  private waiters: {
    test: (text: string) => boolean;
    resolve: (text: string) => void;
    reject: (e: Error) => void;
  }[] = [];
  private isEnded = false;
  readonly ended: Promise<string>;

  private constructor(readonly socket: Socket) {
    let resolveEnded!: (text: string) => void;
    this.ended = new Promise((resolve) => {
      resolveEnded = resolve;
    });
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.check();
    });
    socket.on("close", () => {
      this.isEnded = true;
      resolveEnded(this.text);
      this.check();
    });
    socket.on("error", () => {});
  }

  static open(
    server: { readonly port: number },
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<RawExchange> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, "127.0.0.1", () => {
        const body = options.body === undefined ? undefined : Buffer.from(options.body);
        const headers = {
          host: `127.0.0.1:${server.port}`,
          connection: "close",
          ...(body === undefined ? {} : { "content-length": String(body.length) }),
          ...options.headers,
        };
        const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("")}\r\n`;
        socket.write(body === undefined ? head : Buffer.concat([Buffer.from(head), body]));
        resolve(new RawExchange(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Posts JSON to a streaming endpoint. */
  static post(
    server: { readonly port: number },
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<RawExchange> {
    return RawExchange.open(server, "POST", path, {
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  }

  /** Everything received so far. */
  get text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The raw bytes after the head (chunk framing included). */
  private get rawBody(): Buffer {
    const bytes = this.bytes;
    const at = bytes.indexOf("\r\n\r\n");
    return at < 0 ? Buffer.alloc(0) : bytes.subarray(at + 4);
  }

  private get chunked(): boolean {
    return parseHead(this.text).headers["transfer-encoding"] === "chunked";
  }

  /** The response body so far (after the head), without the chunked framing. */
  get body(): string {
    return this.dechunk().body.toString("utf8");
  }

  /** `true` once the body's terminating chunk arrived (or, unchunked, the head says no more). */
  get complete(): boolean {
    return this.dechunk().complete;
  }

  private dechunk(): { body: Buffer; complete: boolean } {
    const raw = this.rawBody;
    if (!this.chunked) return { body: raw, complete: false };
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = raw.indexOf("\r\n", at);
      if (eol < 0) return { body: Buffer.concat(parts), complete: false };
      const size = Number.parseInt(raw.subarray(at, eol).toString("latin1"), 16);
      if (size === 0) return { body: Buffer.concat(parts), complete: true };
      const start = eol + 2;
      const available = Math.min(size, raw.length - start);
      parts.push(raw.subarray(start, start + available));
      if (available < size) return { body: Buffer.concat(parts), complete: false };
      at = start + size + 2;
    }
  }

  /** The parsed events of the body so far. */
  get events(): EventSourceMessage[] {
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) });
    parser.feed(this.body);
    return events;
  }

  /** Resolves once `test(body)` holds (the body so far, unchunked); rejects if the connection closes first. */
  until(test: (text: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ test, resolve, reject });
      this.check();
    });
  }

  /** Resolves once `count` events were received. */
  async untilEvents(count: number): Promise<EventSourceMessage[]> {
    await this.until(() => this.events.length >= count);
    return this.events;
  }

  private check(): void {
    if (this.waiters.length === 0) return;
    const text = this.body;
    this.waiters = this.waiters.filter((w) => {
      if (w.test(text)) {
        w.resolve(text);
        return false;
      }
      if (this.isEnded) {
        w.reject(new Error(`The connection closed first; received:\n${text}`));
        return false;
      }
      return true;
    });
  }
}

/** The head's status code and headers (lower-cased names). */
export function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const head = text.slice(0, text.indexOf("\r\n\r\n"));
  const [statusLine, ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(":");
    headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(statusLine?.split(" ")[1]), headers };
}
