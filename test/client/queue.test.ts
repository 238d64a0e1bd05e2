/**
 * troupe/client's queue functions against a real server (the in-process queue) with the scenario
 * app's two runners: submit, status, statusStream, result, cancel, subscribe in both modes and
 * streamQueued, with every refusal typed; and streamQueued's resume after a cut connection and
 * its `retry` event, byte by byte from a hand-written server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import {
  type ClientEvent,
  cancel,
  HttpError,
  type QueueStatus,
  RequestError,
  RequestFailedError,
  result,
  status,
  statusStream,
  streamQueued,
  submit,
  subscribe,
} from "../../src/client/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { serveForTest } from "../app/helpers.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { waitForFile } from "../helpers.ts";
import { cuttingProxy } from "./cutting-proxy.ts";
import { event, sseServer } from "./sse-server.ts";

const APP_ID = "local/scenario-app";
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

let server: ServerHandle;
let dir: string;

beforeAll(async () => {
  server = await serveForTest(ScenarioApp);
  dir = mkdtempSync(join(tmpdir(), "troupe-client-queue-"));
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Collects an async iterable's items. */
async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(
    (value) => {
      throw new Error(`Expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** A fresh folder for one hold request's marker files. */
function holdDir(name: string): string {
  return mkdtempSync(join(dir, `${name}-`));
}

describe("submit, status, statusStream and result", () => {
  it("submits, follows the status stream to COMPLETED and reads the result", async () => {
    const submitted = await submit(server.url, APP_ID, { op: "echo", value: { hello: "queue" } });
    const { requestId } = submitted;
    expect(submitted).toMatchObject({
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "IN_QUEUE",
      queuePosition: expect.any(Number),
      statusUrl: `${server.url}/queue/${APP_ID}/requests/${requestId}/status`,
      responseUrl: `${server.url}/queue/${APP_ID}/requests/${requestId}`,
      cancelUrl: `${server.url}/queue/${APP_ID}/requests/${requestId}/cancel`,
    });
    // fal's names stay at hand for code written against fal's client.
    expect(submitted.raw).toMatchObject({ request_id: requestId, queue_position: 0 });

    const statuses = await all(statusStream(server.url, APP_ID, requestId, { logs: true }));
    const last = statuses.at(-1);
    expect(last).toMatchObject({ status: "COMPLETED", requestId, error: undefined });
    expect(statuses.slice(0, -1).every((s) => s.status !== "COMPLETED")).toBe(true);

    const now = await status(server.url, APP_ID, requestId, { logs: true });
    expect(now).toMatchObject({
      status: "COMPLETED",
      metrics: { inferenceTime: expect.any(Number) },
      logs: expect.any(Array),
      errorType: undefined,
    });
    expect(now.raw).toMatchObject({ metrics: { inference_time: expect.any(Number) } });
    expect((await status(server.url, APP_ID, requestId)).logs).toBeNull();
    expect(await result(server.url, APP_ID, requestId)).toEqual({ hello: "queue" });
  });

  it("submits to an endpoint's path and reads its events with streamQueued, numbered from 1", async () => {
    const { requestId } = await submit(
      server.url,
      APP_ID,
      { op: "burst", count: 3 },
      { path: "/objects", priority: "low", timeout: 60 },
    );
    const s = streamQueued<{ i: number }, { count: number }>(server.url, APP_ID, requestId);
    const events: ClientEvent<{ i: number }, { count: number }>[] = [];
    for await (const e of s.events()) events.push(e);
    expect(events.filter((e) => e.type !== "queued").map((e) => e.type)).toEqual([
      "started",
      "result",
      "result",
      "result",
      "result",
      "done",
    ]);
    const numbered = events.flatMap((e) => ("id" in e && e.id !== undefined ? [e.id] : []));
    expect(numbered).toEqual([2, 3, 4, 5, 6]);
    expect(await s.done()).toEqual({ count: 3 });
    expect(s.requestId).toBe(requestId);

    // From after an event on: the rest, none again.
    const rest = streamQueued(server.url, APP_ID, requestId, { lastEventId: 4 });
    const later: unknown[] = [];
    for await (const result of rest) later.push(result);
    expect(later).toEqual([{ i: 3, last: true }]);
    expect(await result(server.url, APP_ID, requestId)).toEqual({ count: 3 });
  });

  it("refuses an input the endpoint's schema rejects with a 422 naming the field, before queueing", async () => {
    const refused = await rejection(submit(server.url, APP_ID, { steps: 3 }, { path: "/strict" }));
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({
      status: 422,
      code: "VALIDATION_FAILED",
      issues: [expect.objectContaining({ path: "prompt" })],
    });
  });

  it("refuses bad arguments before sending anything", async () => {
    const bad = [
      () => submit(server.url, "no-slash", {}),
      () => submit(server.url, APP_ID, {}, { priority: "high" as "low" }),
      () => submit(server.url, APP_ID, {}, { timeout: 0 }),
      () => submit(server.url, APP_ID, {}, { webhookUrl: "ftp://example.test/hook" }),
      () => submit("not a url", APP_ID, {}),
      () => status(server.url, APP_ID, ""),
      () => subscribe(server.url, APP_ID, {}, { mode: "sometimes" as "polling" }),
      () => subscribe(server.url, APP_ID, {}, { pollInterval: -1 }),
    ];
    for (const call of bad) {
      expect(await rejection(call())).toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    expect(() => streamQueued(server.url, APP_ID, UNKNOWN_ID, { lastEventId: -1 })).toThrow(
      /lastEventId/,
    );
  });
});

describe("failures, refusals and unknown ids", () => {
  it("a failed request's result rejects with RequestFailedError and the server's code", async () => {
    const { requestId } = await submit(server.url, APP_ID, {
      op: "throw",
      rank: 0,
      message: "no luck",
    });
    const statuses = await all(statusStream(server.url, APP_ID, requestId));
    expect(statuses.at(-1)).toMatchObject({
      status: "COMPLETED",
      errorType: "CALL_FAILED",
      error: expect.stringContaining("no luck"),
    });
    const failed = await rejection(result(server.url, APP_ID, requestId));
    expect(failed).toBeInstanceOf(RequestFailedError);
    expect(failed).toMatchObject({ code: "CALL_FAILED", status: 500, requestId });
    expect((failed as Error).message).toContain("no luck");
    const streamed = await rejection(streamQueued(server.url, APP_ID, requestId).done());
    expect(streamed).toBeInstanceOf(RequestFailedError);
    expect(streamed).toMatchObject({ code: "CALL_FAILED", requestId });
  });

  it("subscribe rejects with the request's own failure", async () => {
    const failed = await rejection(
      subscribe(server.url, APP_ID, { op: "throw", rank: 1, message: "rank one fails" }),
    );
    expect(failed).toBeInstanceOf(RequestFailedError);
    expect(failed).toMatchObject({ code: "CALL_FAILED", status: 500 });
  });

  it("an unknown or malformed id is a 404 HttpError naming that id, from every function", async () => {
    for (const id of [UNKNOWN_ID, "not-a-uuid"]) {
      const refusals = [
        status(server.url, APP_ID, id),
        result(server.url, APP_ID, id),
        cancel(server.url, APP_ID, id),
        all(statusStream(server.url, APP_ID, id)),
        streamQueued(server.url, APP_ID, id).done(),
      ];
      for (const refusal of refusals) {
        const error = await rejection(refusal);
        expect(error).toBeInstanceOf(HttpError);
        expect(error).toMatchObject({ status: 404, code: "NOT_FOUND", requestId: id });
      }
    }
  });

  it("an app id the server does not serve is a 404 on submit", async () => {
    const error = await rejection(submit(server.url, "someone/else", { op: "echo", value: 1 }));
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 404, code: "NOT_FOUND" });
  });

  it("a server that cannot be reached is CONNECTION_FAILED", async () => {
    const gone = await sseServer();
    await gone.close();
    const error = await rejection(status(gone.url, APP_ID, UNKNOWN_ID));
    expect(error).toMatchObject({ code: "CONNECTION_FAILED", requestId: UNKNOWN_ID });
  });
});

describe("cancel and queue positions", () => {
  it("reports live positions, cancels a waiting and a running request, and says when one had ended", async () => {
    // Two hold requests take both of the replica's slots; the holder runner runs A, B waits in it.
    const dirA = holdDir("a");
    const dirB = holdDir("b");
    const a = await submit(server.url, APP_ID, { dir: dirA }, { path: "/hold" });
    const b = await submit(server.url, APP_ID, { dir: dirB }, { path: "/hold" });
    await waitForFile(join(dirA, "started-0"));
    await untilStatus(b.requestId, (s) => s.status === "IN_PROGRESS");
    const c = await submit(server.url, APP_ID, { op: "echo", value: "c" });
    const d = await submit(server.url, APP_ID, { op: "echo", value: "d" });
    expect([c.queuePosition, d.queuePosition]).toEqual([0, 1]);

    const seen: QueueStatus[] = [];
    const positions = [deferred(), deferred()];
    const dStream = (async () => {
      for await (const s of statusStream(server.url, APP_ID, d.requestId)) {
        seen.push(s);
        if (s.status === "IN_QUEUE") positions[s.queuePosition]?.resolve();
      }
    })();
    await positions[1]?.promise;

    // A waiting request leaves the queue without running; the one behind it moves up.
    expect(await cancel(server.url, APP_ID, c.requestId)).toBe("CANCELLATION_REQUESTED");
    expect(await status(server.url, APP_ID, c.requestId)).toMatchObject({
      status: "COMPLETED",
      errorType: "ABORTED",
    });
    const aborted = await rejection(result(server.url, APP_ID, c.requestId));
    expect(aborted).toBeInstanceOf(RequestFailedError);
    expect(aborted).toMatchObject({ code: "ABORTED", status: 400, requestId: c.requestId });
    await positions[0]?.promise;

    // A running request's ranks see the cancel; its slot goes to the next request.
    expect(await cancel(server.url, APP_ID, a.requestId)).toBe("CANCELLATION_REQUESTED");
    await waitForFile(join(dirA, "aborted-0"));
    await dStream;
    const shown = seen.map((s) => (s.status === "IN_QUEUE" ? s.queuePosition : s.status));
    expect(shown.slice(0, 2)).toEqual([1, 0]);
    expect(shown.at(-1)).toBe("COMPLETED");
    expect(seen.at(-1)).toMatchObject({ status: "COMPLETED", errorType: undefined });
    expect(await result(server.url, APP_ID, d.requestId)).toBe("d");
    await untilStatus(a.requestId, (s) => s.status === "COMPLETED");
    expect(await cancel(server.url, APP_ID, a.requestId)).toBe("ALREADY_COMPLETED");

    await waitForFile(join(dirB, "started-0"));
    expect(await cancel(server.url, APP_ID, b.requestId)).toBe("CANCELLATION_REQUESTED");
    await untilStatus(b.requestId, (s) => s.status === "COMPLETED");
  });
});

describe("subscribe", () => {
  it("streaming (the default): onEnqueue, then every status on the way, then the result", async () => {
    const ids: string[] = [];
    const updates: QueueStatus[] = [];
    const output = await subscribe<{ count: number }>(
      server.url,
      APP_ID,
      { op: "burst", count: 2 },
      {
        path: "/objects",
        onEnqueue: (id) => ids.push(id),
        onQueueUpdate: (s) => updates.push(s),
      },
    );
    expect(output).toEqual({ count: 2 });
    expect(ids).toHaveLength(1);
    expect(updates.at(-1)).toMatchObject({ status: "COMPLETED", requestId: ids[0] });
  });

  it("polling: asks for the status until COMPLETED, then the result", async () => {
    const updates: string[] = [];
    const output = await subscribe(
      server.url,
      APP_ID,
      { op: "echo", value: [1, 2] },
      {
        mode: "polling",
        pollInterval: 5,
        logs: true,
        onQueueUpdate: (s) => updates.push(s.status),
      },
    );
    expect(output).toEqual([1, 2]);
    expect(updates.at(-1)).toBe("COMPLETED");
  });

  it("an abort rejects with an AbortError and cancels the request it submitted", async () => {
    for (const mode of ["streaming", "polling"] as const) {
      const holdAt = holdDir(`subscribe-${mode}`);
      const controller = new AbortController();
      let id: string | undefined;
      const waiting = subscribe(
        server.url,
        APP_ID,
        { dir: holdAt },
        {
          path: "/hold",
          mode,
          pollInterval: 5,
          signal: controller.signal,
          onEnqueue: (requestId) => {
            id = requestId;
          },
        },
      );
      await waitForFile(join(holdAt, "started-0"));
      controller.abort();
      expect(await rejection(waiting)).toMatchObject({ name: "AbortError" });
      await waitForFile(join(holdAt, "aborted-0"));
      const final = await untilStatus(id as string, (s) => s.status === "COMPLETED");
      expect(final).toMatchObject({ errorType: "ABORTED" });
    }
  });
});

describe("abort signals", () => {
  it("an aborted signal stops each call; reading stops, the request goes on", async () => {
    const aborted = AbortSignal.abort();
    expect(await rejection(submit(server.url, APP_ID, {}, { signal: aborted }))).toMatchObject({
      name: "AbortError",
    });
    // A stream that sends one result, then waits on every rank until it is cancelled.
    const holdAt = holdDir("signals");
    const { requestId } = await submit(
      server.url,
      APP_ID,
      { op: "waitAbort", dir: holdAt },
      { path: "/stream" },
    );

    const controller = new AbortController();
    const statuses = statusStream(server.url, APP_ID, requestId, { signal: controller.signal });
    const reading = (async () => {
      for await (const s of statuses) if (s.status === "IN_PROGRESS") controller.abort();
    })();
    expect(await rejection(reading)).toMatchObject({ name: "AbortError" });

    const events = new AbortController();
    const s = streamQueued(server.url, APP_ID, requestId, { signal: events.signal });
    const started = (async () => {
      for await (const e of s.events()) if (e.type === "result") events.abort();
    })();
    expect(await rejection(started)).toMatchObject({ name: "AbortError" });
    expect(await rejection(s.done())).toMatchObject({ name: "AbortError" });

    // Neither reader cancelled it.
    expect((await status(server.url, APP_ID, requestId)).status).toBe("IN_PROGRESS");
    for (const call of [
      status(server.url, APP_ID, requestId, { signal: aborted }),
      result(server.url, APP_ID, requestId, { signal: aborted }),
      cancel(server.url, APP_ID, requestId, { signal: aborted }),
    ]) {
      expect(await rejection(call)).toMatchObject({ name: "AbortError" });
    }
    expect(await cancel(server.url, APP_ID, requestId)).toBe("CANCELLATION_REQUESTED");
    await waitForFile(join(holdAt, "aborted-0"));
  });
});

describe("streamQueued's connection", () => {
  it("resumes after the connection is cut mid-stream with Last-Event-ID, none lost or repeated", async () => {
    const { requestId } = await submit(
      server.url,
      APP_ID,
      { op: "burst", count: 5 },
      { path: "/objects" },
    );
    await untilStatus(requestId, (s) => s.status === "COMPLETED");
    const proxy = await cuttingProxy(server.port, '"i":2');
    try {
      const s = streamQueued<{ i: number }, { count: number }>(proxy.url, APP_ID, requestId, {
        reconnect: { attempts: 3, delay: 0 },
      });
      const events = await all(s.events());
      const numbered = events.filter((e) => e.type === "result" || e.type === "done");
      expect(numbered.map((e) => e.id)).toEqual([2, 3, 4, 5, 6, 7, 8]);
      expect(
        numbered.filter((e) => e.type === "result").map((e) => (e.data as { i: number }).i),
      ).toEqual([0, 1, 2, 3, 4, 5]);
      expect(events.filter((e) => e.type === "started")).toHaveLength(1);
      const path = `/queue/${APP_ID}/requests/${requestId}/events`;
      expect(proxy.heads).toEqual([`GET ${path} HTTP/1.1`, `GET ${path} HTTP/1.1 last-event-id=3`]);
    } finally {
      proxy.server.close();
    }
  });

  it("yields a retry event when the request runs again, its started and results again after it", async () => {
    await using sse = await sseServer();
    const sent: string[] = [];
    const recording: typeof fetch = (input, init) => {
      sent.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    };
    const s = streamQueued(sse.url, APP_ID, "req-retry", { fetch: recording });
    const events = (async () => all(s.events()))();
    const exchange = await sse.next();
    expect(exchange.method).toBe("GET");
    expect(exchange.url).toBe(`/queue/${APP_ID}/requests/req-retry/events`);
    expect(exchange.headers["last-event-id"]).toBeUndefined();
    await exchange.open("http-request-id", { "troupe-dialect": "troupe" });
    const lost = {
      error: { name: "LeaseLostError", code: "LEASE_LOST", message: "The replica was lost" },
    };
    await exchange.write(
      `retry: 0\n\n${event("started", {}, 1)}${event("result", { i: 0 }, 2)}` +
        event("retry", { attempt: 2, ...lost }, 3) +
        event("started", {}, 4) +
        event("result", { i: 0 }, 5) +
        event("done", { ok: true }, 6),
    );
    exchange.end();
    const got = await events;
    expect(got.map((e) => e.type)).toEqual([
      "started",
      "result",
      "retry",
      "started",
      "result",
      "done",
    ]);
    const retry = got[2];
    expect(retry).toMatchObject({ type: "retry", attempt: 2, id: 3 });
    const error = (retry as { error: unknown }).error;
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: "LEASE_LOST", requestId: "req-retry" });
    // Once every callback queued by the end has run, still only the GET: a reader never cancels.
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([`GET /queue/${APP_ID}/requests/req-retry/events`]);
  });

  it("a retry event without its attempt is a protocol error", async () => {
    await using sse = await sseServer();
    const s = streamQueued(sse.url, APP_ID, "req-bad");
    const done = s.done();
    const exchange = await sse.next();
    await exchange.open("x", { "troupe-dialect": "troupe" });
    await exchange.write(`retry: 0\n\n${event("retry", { error: {} }, 1)}`);
    expect(await rejection(done)).toMatchObject({ code: "PROTOCOL_ERROR", requestId: "req-bad" });
  });
});

/** Reads the request's status stream until `test` holds, then leaves it. */
async function untilStatus(
  requestId: string,
  test: (s: QueueStatus) => boolean,
): Promise<QueueStatus> {
  for await (const s of statusStream(server.url, APP_ID, requestId)) if (test(s)) return s;
  throw new Error(`Request ${requestId} completed without reaching the status waited for`);
}
