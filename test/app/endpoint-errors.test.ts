/**
 * One rule for an error an endpoint's own code throws (not troupe's, not a worker's): wherever it
 * is thrown (a JSON endpoint, a streaming endpoint before it returns its StreamingResponse, or its
 * generator after the stream started), the client gets the same public error: code INTERNAL, the
 * error's name, its message without a stack or source paths. The server's log keeps all of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { App, endpoint, type ServerHandle, StreamingResponse } from "../../src/app/index.ts";
import { parseHead, RawExchange, recordingPino, serveForTest } from "./helpers.ts";

const PATH = "file:///srv/app/models/weights.ts:12:3";
const MESSAGE = `Could not load ${PATH} for "sunset"\n    at load (/srv/app/models/load.ts:4:11)\n    at main (node:internal/main:1:1)`;
/** What the client sees of {@link MESSAGE}. */
const PUBLIC = 'Could not load <file> for "sunset"';

function appError(): Error {
  return new Error(MESSAGE);
}

class FailingApp extends App {
  @endpoint("/json", { input: z.object({}) })
  async json(): Promise<never> {
    throw appError();
  }

  /** Throws before any await: the same as a rejection. */
  @endpoint("/json-sync", { input: z.object({}) })
  jsonSync(): never {
    throw appError();
  }

  @endpoint("/json-string", { input: z.object({}) })
  async jsonString(): Promise<never> {
    throw PUBLIC;
  }

  @endpoint("/before", { input: z.object({}), streaming: true })
  async before(): Promise<StreamingResponse> {
    throw appError();
  }

  @endpoint("/inside", { input: z.object({}), streaming: true })
  async inside() {
    return new StreamingResponse(
      (async function* () {
        yield { step: 1 };
        throw appError();
      })(),
    );
  }

  @endpoint("/first", { input: z.object({}), streaming: true })
  async first() {
    return new StreamingResponse(
      // biome-ignore lint/correctness/useYield: it fails before its first item
      (async function* () {
        throw appError();
      })(),
    );
  }
}

const EXPECTED = { name: "Error", code: "INTERNAL", message: PUBLIC };

function expectNothingInternal(text: string): void {
  expect(text).not.toContain("file://");
  expect(text).not.toContain("/srv/");
  expect(text).not.toContain("    at ");
}

describe("an error an endpoint's own code throws", () => {
  let server: ServerHandle;
  const log = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(FailingApp, { logger: log.logger });
  });
  afterAll(() => server.close());

  /** The JSON error body of a request answered before any stream started. */
  async function jsonError(path: string): Promise<Record<string, unknown>> {
    const exchange = await RawExchange.post(server, path, {});
    await exchange.ended;
    const head = parseHead(exchange.text);
    expect(head.status).toBe(500);
    expect(head.headers["content-type"]).toMatch(/^application\/json/);
    expectNothingInternal(exchange.text);
    const { error } = JSON.parse(exchange.body) as { error: Record<string, unknown> };
    expect(error.requestId).toBe(head.headers["x-request-id"]);
    return error;
  }

  /** The fatal error event of a stream, in `dialect`. */
  async function streamError(
    path: string,
    dialect: "fal" | "troupe",
  ): Promise<{ error: Record<string, unknown>; complete: boolean; results: unknown[] }> {
    const exchange = await RawExchange.post(server, path, {}, { "troupe-dialect": dialect });
    await exchange.ended;
    const head = parseHead(exchange.text);
    expect(head.status).toBe(200);
    expectNothingInternal(exchange.text);
    const events = exchange.events;
    const last = events.at(-1);
    expect(last?.event).toBe("error");
    const data = JSON.parse(last?.data ?? "{}") as {
      error: Record<string, unknown>;
      fatal: boolean;
    };
    expect(data.fatal).toBe(true);
    expect(data.error.requestId).toBe(head.headers["x-request-id"]);
    const results = events
      .filter((e) => e.event === undefined || e.event === "message" || e.event === "result")
      .map((e) => JSON.parse(e.data));
    return { error: data.error, complete: exchange.complete, results };
  }

  it("is answered by a JSON endpoint with 500 and its public form", async () => {
    expect(await jsonError("/json")).toMatchObject(EXPECTED);
    expect(await jsonError("/json-sync")).toMatchObject(EXPECTED);
  });

  it("is answered the same when a streaming endpoint throws before it returns its stream", async () => {
    expect(await jsonError("/before")).toMatchObject(EXPECTED);
  });

  it("ends a started stream with the same error, in both dialects", async () => {
    for (const path of ["/inside", "/first"]) {
      const fal = await streamError(path, "fal");
      expect(fal.error).toMatchObject(EXPECTED);
      // fal's dialect ends a failed stream without its last chunk (docs/failures.md).
      expect(fal.complete).toBe(false);
      const troupe = await streamError(path, "troupe");
      expect(troupe.error).toMatchObject(EXPECTED);
      expect(troupe.complete).toBe(true);
    }
    expect((await streamError("/inside", "fal")).results).toEqual([{ step: 1 }]);
  });

  it("has exactly the same public form wherever it was thrown", async () => {
    const forms = [
      await jsonError("/json"),
      await jsonError("/before"),
      (await streamError("/inside", "fal")).error,
      (await streamError("/inside", "troupe")).error,
    ].map(({ requestId: _id, ...rest }) => rest);
    for (const form of forms) expect(form).toEqual(EXPECTED);
  });

  it("is INTERNAL with its text when what was thrown is not an Error", async () => {
    expect(await jsonError("/json-string")).toMatchObject(EXPECTED);
  });

  it("keeps the whole message and the stack in the server's log line", async () => {
    const error = await jsonError("/json");
    const line = log.lines.find((l) => l.reqId === error.requestId);
    expect(line).toMatchObject({ status: 500, outcome: "failed", code: "INTERNAL" });
    const err = line?.err as { message: string; stack: string };
    expect(err.message).toContain(PATH);
    expect(err.stack).toContain("endpoint-errors.test.ts");
  });
});
