/**
 * What a JSON body may be: empty is no body (the route answers: a cancel's 204 or 404, a POST's
 * 422 from its schema), and nested more than `maxBodyDepth` objects and arrays is 400
 * BODY_TOO_DEEP naming the limit, found without recursion. A value too deep to cross a process
 * boundary that a worker returns or streams, or an app passes to its runner, is a typed
 * INVALID_PAYLOAD, not a stack overflow.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  App,
  type EndpointContext,
  endpoint,
  type ServerHandle,
  StreamingResponse,
} from "../../src/app/index.ts";
import { exceedsDepth } from "../../src/app/json-body.ts";
import {
  DistributedRunner,
  type DistributedWorker,
  InvalidPayloadError,
  WorkerCallError,
} from "../../src/index.ts";
import { assertSendable, MAX_SEND_DEPTH } from "../../src/internal/sendable.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { collect, tempDir } from "../helpers.ts";
import { parseHead, RawExchange, serveForTest } from "./helpers.ts";

/** What the deep worker below is asked: how deep a value to make, returned or streamed. */
interface DeepInput {
  readonly levels: number;
  readonly stream?: boolean;
}

class BodyApp extends App {
  @endpoint("/any", { input: z.object({ v: z.unknown() }) })
  async any(input: { v: unknown }) {
    return { v: input.v };
  }

  @endpoint("/need", { input: z.object({ prompt: z.string() }) })
  async need(input: { prompt: string }) {
    return input;
  }

  /** One item, then it waits until the request is cancelled. */
  @endpoint("/waits", { input: z.object({}), streaming: true })
  async waits(_input: object, ctx: EndpointContext) {
    return new StreamingResponse(
      (async function* () {
        yield { waiting: true };
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      })(),
    );
  }
}

/** Arrays nested `levels` deep (the outermost counts), around `1`. */
function nestedText(levels: number): string {
  return `${"[".repeat(levels)}1${"]".repeat(levels)}`;
}

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** Posts `body` as it is, with the JSON content type. */
function postText(server: ServerHandle, path: string, body: string): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

async function errorOf(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as { error: Record<string, unknown> };
  expect(body.error.requestId).toBe(response.headers.get("x-request-id"));
  return body.error;
}

describe("a body-less request sent with content-type: application/json", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(BodyApp);
  });
  afterAll(() => server.close());

  it("reaches DELETE /requests/<id>: 404 REQUEST_NOT_FOUND for an id the server never had", async () => {
    const response = await fetch(`${server.url}/requests/never-had-it`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(404);
    expect((await errorOf(response)).code).toBe("REQUEST_NOT_FOUND");
  });

  it("reaches DELETE /requests/<id>: 204, and the stream it cancels ends", async () => {
    const stream = await RawExchange.post(server, "/waits", {}, { "troupe-dialect": "troupe" });
    await stream.untilEvents(1);
    const { headers } = parseHead(stream.text);
    // The stream's owner cancels it: with its resume token, where the server hands one out.
    const token = headers["troupe-resume-token"];
    // The header and an explicit content-length of 0, as some clients send it.
    const cancel = await RawExchange.open(
      server,
      "DELETE",
      `/requests/${headers["x-request-id"]}`,
      {
        headers: {
          "content-type": "application/json",
          "content-length": "0",
          ...(token === undefined ? {} : { "troupe-resume-token": token }),
        },
      },
    );
    await cancel.ended;
    expect(parseHead(cancel.text).status).toBe(204);
    await stream.ended;
    const last = stream.events.at(-1);
    expect(last?.event).toBe("error");
    expect(JSON.parse(last?.data ?? "{}").error.code).toBe("ABORTED");
  });

  it("gets a POST endpoint's 422 from its schema, as for any missing field", async () => {
    const variants: Record<string, string>[] = [{}, { "content-length": "0" }];
    for (const headers of variants) {
      const exchange = await RawExchange.open(server, "POST", "/need", {
        headers: { "content-type": "application/json", ...headers },
      });
      await exchange.ended;
      expect(parseHead(exchange.text).status).toBe(422);
      const body = JSON.parse(exchange.body) as {
        error: { code: string; issues: { path: string; message: string }[] };
        detail: unknown[];
      };
      expect(body.error.code).toBe("VALIDATION_FAILED");
      expect(body.error.issues).toEqual([
        { path: "", message: "Invalid input: expected object, received undefined" },
      ]);
      expect(body.detail).toEqual([
        { loc: ["body"], msg: expect.any(String), type: "invalid_type" },
      ]);
    }
  });

  it("still answers a body of only whitespace, which is not empty, with 400 INVALID_JSON", async () => {
    const response = await postText(server, "/need", "  \n");
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("INVALID_JSON");
  });
});

describe("a body nested deeper than maxBodyDepth", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(BodyApp);
  });
  afterAll(() => server.close());

  const post = (body: string) => postText(server, "/any", body);

  it("is refused with 400 BODY_TOO_DEEP naming the limit at 65 levels, accepted at 64", async () => {
    // The body's own object is the first level.
    const over = await post(`{"v":${nestedText(64)}}`);
    expect(over.status).toBe(400);
    const error = await errorOf(over);
    expect(error).toMatchObject({ name: "BodyTooDeepError", code: "BODY_TOO_DEEP" });
    expect(error.message).toContain("64 levels");
    expect(error.message).toContain("maxBodyDepth");
    const fits = await post(`{"v":${nestedText(63)}}`);
    expect(fits.status).toBe(200);
    expect(await fits.json()).toEqual({ v: JSON.parse(nestedText(63)) });
  });

  it("answers 100,000 levels with 400 without overflowing anything, and stays up", async () => {
    const response = await post(nestedText(100_000));
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe("BODY_TOO_DEEP");
    const objects = await post(`${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`);
    expect(objects.status).toBe(400);
    expect((await errorOf(objects)).code).toBe("BODY_TOO_DEEP");
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
  });

  it("does not count brackets inside strings, escaped quotes included", async () => {
    const text = "[".repeat(100);
    for (const v of [text, `\\"${text}`, `\\\\${text}`, `x\\\\\\"${text}`]) {
      const response = await post(`{"v":"${v}"}`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { v: string }).v).toBe(JSON.parse(`"${v}"`));
    }
  });

  it("follows the option", async () => {
    await using shallow = await serveForTest(BodyApp, { maxBodyDepth: 2 });
    expect((await postText(shallow, "/any", '{"v":[1]}')).status).toBe(200);
    const over = await postText(shallow, "/any", '{"v":[[1]]}');
    expect(over.status).toBe(400);
    expect((await errorOf(over)).message).toContain("2 levels");
  });
});

describe("exceedsDepth", () => {
  it("counts objects and arrays, not what strings hold", () => {
    expect(exceedsDepth('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(exceedsDepth('{"a":[1,{"b":[2]}]}', 3)).toBe(true);
    expect(exceedsDepth("[[1],[2],[3]]", 2)).toBe(false);
    expect(exceedsDepth('["[[[", "\\"[[[", "\\\\"]', 1)).toBe(false);
    expect(exceedsDepth('["\\\\", [[1]]]', 2)).toBe(true);
    expect(exceedsDepth('"unterminated [[[', 1)).toBe(false);
  });
});

describe("a value too deep to cross a process boundary", () => {
  it("is an InvalidPayloadError naming the limit, never a RangeError, however deep", () => {
    for (const levels of [MAX_SEND_DEPTH + 1, 5_000, 100_000]) {
      let caught: unknown;
      try {
        assertSendable(nested(levels), "result");
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidPayloadError);
      expect((caught as InvalidPayloadError).code).toBe("INVALID_PAYLOAD");
      expect((caught as Error).message).toContain(`at most ${MAX_SEND_DEPTH} levels`);
      expect((caught as Error).message.length).toBeLessThan(300);
    }
    expect(assertSendable(nested(MAX_SEND_DEPTH), "result")).toBe(false);
  });

  describe("from a worker", () => {
    const dir = tempDir();
    const worker = join(dir.path, "deep-worker.ts");
    writeFileSync(
      worker,
      `import { DistributedWorker } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "../../src/index.ts")).href)};
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}
export default class DeepWorker extends DistributedWorker<{ levels: number; stream?: boolean }> {
  override async call(input: { levels: number; stream?: boolean }) {
    if (!input.stream) return nested(input.levels);
    this.addStreamingResult({ step: 1 });
    this.addStreamingResult(nested(input.levels));
    return null;
  }
}
`,
    );
    const runner = new DistributedRunner<DistributedWorker<DeepInput>>({
      worker: pathToFileURL(worker),
      worldSize: 1,
      gpus: [],
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    beforeAll(() => runner.start());
    afterAll(async () => {
      await runner.stop();
      dir[Symbol.dispose]();
    });

    it("fails the call it returns it from with INVALID_PAYLOAD, and the runner stays usable", async () => {
      const error = await runner.invoke({ levels: 2_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerCallError);
      expect((error as Error).message).toContain(`at most ${MAX_SEND_DEPTH} levels`);
      expect(((error as Error).cause as { code?: string }).code).toBe("INVALID_PAYLOAD");
      await expect(runner.invoke({ levels: 3 })).resolves.toEqual([[[1]]]);
    });

    it("fails the stream it streams it in after the results before it", async () => {
      const events = await collect(runner.stream({ levels: 100_000, stream: true }).events());
      expect(events.filter((e) => e.type === "result")).toEqual([
        { type: "result", rank: 0, data: { step: 1 } },
      ]);
      const last = events.at(-1) as { type: string; fatal: boolean; error: Error };
      expect(last).toMatchObject({ type: "error", fatal: true });
      expect(last.error).toBeInstanceOf(WorkerCallError);
      expect((last.error.cause as { code?: string }).code).toBe("INVALID_PAYLOAD");
    });
  });

  it("is refused as an app's payload before it is sent to a rank", async () => {
    await using server = await serveForTest(ScenarioApp);
    const app = server.app as ScenarioApp;
    const error = await Promise.resolve()
      .then(() => app.runner.invoke({ op: "echo", value: nested(3_000) }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect((error as Error).message).toContain(`at most ${MAX_SEND_DEPTH} levels`);
    await expect(app.runner.invoke({ op: "echo", value: nested(4) })).resolves.toEqual(nested(4));
  });
});
