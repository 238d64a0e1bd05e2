import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import { HttpError, isAbortError, run, stream } from "../../src/client/index.ts";
import { collect } from "../helpers.ts";
import CountingApp, { cancelled, resetCancelled } from "./fixtures/counting-app.ts";

let server: ServerHandle;
beforeAll(async () => {
  server = await serve(CountingApp, { port: 0, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await server.close();
});

describe("the client against troupe's own server", () => {
  it("streams every result in order in dialect 2, then the final result", async () => {
    const s = stream<{ step: number }, null>(server.url, { input: { to: 5 } });
    const events = await collect(s.events());
    expect(s.dialect).toBe("troupe");
    expect(s.requestId).toMatch(/.+/);
    const results = events.filter((e) => e.type === "result");
    expect(results.map((e) => [e.id, (e.data as { step: number }).step])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    expect(events.at(-1)).toEqual({ type: "done", data: null, id: 6 });
    expect(await s.done()).toBeNull();
  });

  it("calls a JSON endpoint with run()", async () => {
    expect(await run(server.url, { input: { to: 7 } })).toEqual({ total: 7 });
  });

  it("rejects invalid input with a typed 422 error carrying the issues", async () => {
    const error = await run(server.url, { input: { to: "many" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 422, code: "VALIDATION_FAILED" });
    expect((error as HttpError).requestId).toMatch(/.+/);
    expect((error as HttpError).issues?.[0]?.path).toBe("to");
  });

  it("cancels the request on the server when the client aborts", async () => {
    // A server of its own whose resume window outlasts the test: only the client's DELETE, not
    // the dropped connection, can stop the request in time.
    const own = await serve(CountingApp, {
      port: 0,
      logger: pino({ level: "silent" }),
      resumeWindow: 600_000,
    });
    resetCancelled();
    const controller = new AbortController();
    const s = stream(own.url, { input: { to: 1, hold: true }, signal: controller.signal });
    const iterator = s[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    controller.abort();
    expect(isAbortError(await iterator.next().catch((e: unknown) => e))).toBe(true);
    expect(await cancelled.promise).toBe(s.requestId);
    // Not awaited: when the DELETE overtakes the news of the dropped connection, the server
    // still waits out the resume window before close() resolves (reported to the server's author).
    void own.close();
  });
});
