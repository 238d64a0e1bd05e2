/**
 * Attacks on other people's requests: resuming or cancelling one without its resume token, with
 * another request's, with the right token but another API key, by guessing ids, or by proposing
 * an id of one's own. Each is refused, and the owner's request runs on untouched.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  App,
  type EndpointContext,
  endpoint,
  type ServerHandle,
  type StreamingResponse,
} from "../../src/app/index.ts";
import { isAbortError, ReaderReplacedError, run, stream } from "../../src/client/index.ts";
import { type Deferred, deferred } from "../../src/internal/deferred.ts";
import ScenarioApp from "../fixtures/app/scenario-app.ts";
import { tempDir, waitForFile } from "../helpers.ts";
import { parseHead, RawExchange, recordingPino, serveForTest } from "./helpers.ts";

const troupe = { "troupe-dialect": "troupe" };
const TOKEN = "troupe-resume-token";

function headersOf(exchange: RawExchange): Record<string, string> {
  return parseHead(exchange.text).headers;
}

function idOf(exchange: RawExchange): string {
  return headersOf(exchange)["x-request-id"] as string;
}

function tokenOf(exchange: RawExchange): Record<string, string> {
  return { [TOKEN]: headersOf(exchange)[TOKEN] as string };
}

/** A stream that waits on every rank until it is cancelled; resolves once it runs. */
async function runningStream(
  server: ServerHandle,
  dir: string,
  headers: Record<string, string> = troupe,
): Promise<RawExchange> {
  const exchange = await RawExchange.post(server, "/stream", { op: "waitAbort", dir }, headers);
  await exchange.until((text) => text.includes("running"));
  return exchange;
}

/** Another request, over (run it first: the runner serves one at a time): its token is real. */
async function finishedStream(
  server: ServerHandle,
  headers: Record<string, string> = troupe,
): Promise<RawExchange> {
  const exchange = await RawExchange.post(server, "/stream", { op: "burst", count: 0 }, headers);
  await exchange.ended;
  return exchange;
}

/** Cancels `owner`'s request as its owner and checks it had run on until then, on every rank. */
async function ownerCancels(
  server: ServerHandle,
  owner: RawExchange,
  dir: string,
  headers: Record<string, string> = {},
): Promise<void> {
  expect(existsSync(join(dir, "aborted-0"))).toBe(false);
  const cancel = await fetch(`${server.url}/requests/${idOf(owner)}`, {
    method: "DELETE",
    headers: { ...tokenOf(owner), ...headers },
  });
  expect(cancel.status).toBe(204);
  for (const rank of [0, 1]) {
    const marker = join(dir, `aborted-${rank}`);
    await waitForFile(marker);
    expect(readFileSync(marker, "utf8")).toMatch(
      /^AbortError: .*The client cancelled the request$/,
    );
  }
  await owner.ended;
}

/** Wrong tokens of every kind: none, empty, random, one a byte off, another request's. */
function wrongTokens(right: string, other: string): (Record<string, string> | undefined)[] {
  const flipped = `${right.slice(0, -1)}${right.endsWith("A") ? "B" : "A"}`;
  return [
    undefined,
    { [TOKEN]: "" },
    { [TOKEN]: randomBytes(32).toString("base64url") },
    { [TOKEN]: flipped },
    { [TOKEN]: other },
  ];
}

describe("a request belongs to whoever started it", () => {
  let server: ServerHandle;
  const log = recordingPino();
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { logger: log.logger });
  });
  afterAll(() => server.close());

  it("answers every stream with an unguessable resume token, in both dialects", async () => {
    for (const headers of [troupe, {}]) {
      const exchange = await finishedStream(server, headers);
      // 32 random bytes, base64url.
      expect(headersOf(exchange)[TOKEN]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });

  it("refuses a resume without the owner's token with 403, replays nothing, and leaves the owner reading", async () => {
    using dir = tempDir();
    const bystander = await finishedStream(server);
    const owner = await runningStream(server, dir.path);
    const before = owner.text;
    for (const headers of wrongTokens(
      tokenOf(owner)[TOKEN] as string,
      tokenOf(bystander)[TOKEN] as string,
    )) {
      const response = await fetch(`${server.url}/stream?requestId=${idOf(owner)}`, {
        headers: { ...troupe, "last-event-id": "0", ...headers },
      });
      expect(response.status).toBe(403);
      const text = await response.text();
      expect(JSON.parse(text)).toMatchObject({
        error: { code: "FORBIDDEN", name: "ForbiddenError" },
      });
      expect(text).not.toContain("running");
    }
    // The owner's connection got nothing from it: no event, no replacement.
    expect(owner.text).toBe(before);
    await ownerCancels(server, owner, dir.path);
    expect(owner.events.map((e) => e.event)).toEqual(["queued", "started", "result", "error"]);
    expect(JSON.parse(owner.events.at(-1)?.data ?? "")).toMatchObject({
      error: { code: "ABORTED" },
      fatal: true,
    });
  });

  it("refuses 240 of 240 tries to cancel or resume someone else's stream, and the request runs on", async () => {
    using dir = tempDir();
    const bystander = await finishedStream(server);
    const owner = await runningStream(server, dir.path);
    const id = idOf(owner);
    const wrong = wrongTokens(tokenOf(owner)[TOKEN] as string, tokenOf(bystander)[TOKEN] as string);
    const statuses: number[] = [];
    for (let i = 0; i < 240; i++) {
      const headers = { ...troupe, "last-event-id": "0", ...wrong[i % wrong.length] };
      const response =
        i % 2 === 0
          ? await fetch(`${server.url}/requests/${id}`, { method: "DELETE", headers })
          : await fetch(`${server.url}/stream?requestId=${id}`, { headers });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses.filter((s) => s === 403)).toHaveLength(240);
    // Guessed ids name nothing: 240 of 240 are unknown.
    const guesses: number[] = [];
    for (let i = 0; i < 240; i++) {
      const response = await fetch(`${server.url}/requests/${randomUUID()}`, {
        method: "DELETE",
        headers: tokenOf(owner),
      });
      await response.arrayBuffer();
      guesses.push(response.status);
    }
    expect(guesses.filter((s) => s === 404)).toHaveLength(240);
    expect(owner.text).not.toContain("event: error");
    await ownerCancels(server, owner, dir.path);
  });

  it("needs the token to cancel a fal-dialect stream too", async () => {
    using dir = tempDir();
    const owner = await runningStream(server, dir.path, {});
    const refused = await fetch(`${server.url}/requests/${idOf(owner)}`, { method: "DELETE" });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("FORBIDDEN");
    await ownerCancels(server, owner, dir.path);
    // fal's dialect ends a failed stream without the terminating chunk.
    expect(owner.complete).toBe(false);
  });

  it("chooses every id itself: a proposed x-request-id is only logged", async () => {
    using dir = tempDir();
    const owner = await runningStream(server, dir.path);
    // Proposing the id of someone's running request names a new request, not theirs (a plain
    // generator's stream: the runner is busy with the owner's).
    const proposer = await RawExchange.post(
      server,
      "/items",
      { count: 1 },
      { ...troupe, "x-request-id": idOf(owner) },
    );
    await proposer.ended;
    const id = idOf(proposer);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id).not.toBe(idOf(owner));
    expect(proposer.events.at(-1)?.event).toBe("done");
    expect(log.lines.filter((l) => l.reqId === id)).toEqual([
      expect.objectContaining({ msg: "request completed", clientRequestId: idOf(owner) }),
    ]);
    const json = await fetch(`${server.url}/strict`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "mine" },
      body: JSON.stringify({ prompt: "p" }),
    });
    expect(await json.json()).toMatchObject({ ok: true });
    const jsonId = json.headers.get("x-request-id") as string;
    expect(jsonId).not.toBe("mine");
    expect(log.lines.filter((l) => l.reqId === jsonId)).toEqual([
      expect.objectContaining({ msg: "request completed", clientRequestId: "mine" }),
    ]);
    await ownerCancels(server, owner, dir.path);
  });
});

/** Endpoints whose handler waits for `ctx.signal` before it answers anything. */
class WaitingApp extends App {
  private readonly calls: { readonly id: Deferred<string>; readonly aborted: Deferred<string> }[] =
    [];
  private arrived = 0;

  /** The next call to arrive: its id once its handler runs, and why its `ctx.signal` fired. */
  nextCall(): { readonly id: Deferred<string>; readonly aborted: Deferred<string> } {
    const call = { id: deferred<string>(), aborted: deferred<string>() };
    this.calls.push(call);
    return call;
  }

  private async wait(ctx: EndpointContext): Promise<never> {
    const call = this.calls[this.arrived++];
    call?.id.resolve(ctx.requestId);
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
    call?.aborted.resolve((ctx.signal.reason as Error).message);
    throw ctx.signal.reason;
  }

  @endpoint("/call", { input: z.object({}) })
  async call(_input: object, ctx: EndpointContext) {
    return await this.wait(ctx);
  }

  /** A streaming endpoint that has not returned its stream yet. */
  @endpoint("/later", { input: z.object({}), streaming: true })
  async later(_input: object, ctx: EndpointContext): Promise<StreamingResponse> {
    return await this.wait(ctx);
  }
}

describe("a request that has no resume token yet", () => {
  let server: ServerHandle;
  let app: WaitingApp;
  /** The methods troupe/client sent, through its `fetch` option. */
  const sent: string[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    sent.push(init?.method ?? "GET");
    return fetch(input, init);
  };
  beforeAll(async () => {
    server = await serveForTest(WaitingApp);
    app = server.app as WaitingApp;
  });
  afterAll(() => server.close());

  it("refuses every DELETE (403) and is cancelled by its own connection closing", async () => {
    const call = app.nextCall();
    const exchange = await RawExchange.post(server, "/call", {});
    const id = await call.id.promise;
    const refused = await fetch(`${server.url}/requests/${id}`, { method: "DELETE" });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe("FORBIDDEN");
    exchange.socket.destroy();
    expect(await call.aborted.promise).toBe("The client disconnected");
  });

  it("is cancelled by troupe/client's run() and stream() aborting before any answer, with no DELETE", async () => {
    for (const path of ["/call", "/later"]) {
      const call = app.nextCall();
      const controller = new AbortController();
      const options = { path, input: {}, signal: controller.signal, fetch: countingFetch };
      const answer =
        path === "/call" ? run(server.url, options) : stream(server.url, options).done();
      await call.id.promise;
      controller.abort();
      expect(isAbortError(await answer.catch((e: unknown) => e))).toBe(true);
      expect(await call.aborted.promise).toBe("The client disconnected");
    }
    expect(sent).toEqual(["POST", "POST"]);
  });
});

describe("with API keys", () => {
  const [k1, k2] = ["key-one-0123456789", "key-two-0123456789"];
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { auth: { keys: [k1, k2] } });
  });
  afterAll(() => server.close());

  it("refuses the right token with another key (403), and lets the owner's key resume and cancel", async () => {
    using dir = tempDir();
    const mine = { authorization: `Key ${k1}` };
    const owner = await runningStream(server, dir.path, { ...troupe, ...mine });
    const id = idOf(owner);
    for (const authorization of [`Key ${k2}`, `Bearer ${k2}`]) {
      const headers = { ...troupe, ...tokenOf(owner), authorization, "last-event-id": "0" };
      const resume = await fetch(`${server.url}/stream?requestId=${id}`, { headers });
      expect(resume.status).toBe(403);
      expect((await resume.json()).error.code).toBe("FORBIDDEN");
      const cancel = await fetch(`${server.url}/requests/${id}`, { method: "DELETE", headers });
      expect(cancel.status).toBe(403);
    }
    // Without any key the auth check refuses first.
    const anonymous = await fetch(`${server.url}/requests/${id}`, {
      method: "DELETE",
      headers: tokenOf(owner),
    });
    expect(anonymous.status).toBe(401);
    // The owner, with its token and its key (sent either way), resumes from the start...
    const resumed = await RawExchange.open(server, "GET", `/stream?requestId=${id}`, {
      headers: {
        ...troupe,
        ...tokenOf(owner),
        authorization: `Bearer ${k1}`,
        "last-event-id": "0",
      },
    });
    await resumed.until((text) => text.includes("running"));
    await owner.ended;
    // ...and cancels.
    const cancel = await fetch(`${server.url}/requests/${id}`, {
      method: "DELETE",
      headers: { ...tokenOf(owner), ...mine },
    });
    expect(cancel.status).toBe(204);
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
    await resumed.ended;
    expect(JSON.parse(resumed.events.at(-1)?.data ?? "")).toMatchObject({
      error: { code: "ABORTED" },
      fatal: true,
    });
  });
});

describe("a second reader", () => {
  let server: ServerHandle;
  beforeAll(async () => {
    server = await serveForTest(ScenarioApp, { retry: 0 });
  });
  afterAll(() => server.close());

  it("replaces the first loudly: troupe/client stops with READER_REPLACED and cancels nothing; the newcomer reads on", async () => {
    using dir = tempDir();
    const sent: string[] = [];
    let token = "";
    const s = stream(server.url, {
      input: { op: "waitAbort", dir: dir.path },
      reconnect: { attempts: 5, delay: 0 },
      fetch: async (input, init) => {
        sent.push(init?.method ?? "GET");
        const response = await fetch(input, init);
        token ||= response.headers.get(TOKEN) ?? "";
        return response;
      },
    });
    const events = s.events()[Symbol.asyncIterator]();
    for (;;) {
      const next = await events.next();
      if (next.value?.type === "result") break;
    }
    // The owner comes back on another connection (its first one half-open, say).
    const newcomer = await RawExchange.open(server, "GET", `/stream?requestId=${s.requestId}`, {
      headers: { ...troupe, [TOKEN]: token, "last-event-id": "0" },
    });
    const error = await events.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReaderReplacedError);
    expect(error).toMatchObject({ code: "READER_REPLACED", requestId: s.requestId });
    await expect(s.done()).rejects.toBeInstanceOf(ReaderReplacedError);
    // The newcomer got every event from the start, and the request runs on for it.
    await newcomer.until((text) => text.includes("running"));
    expect(newcomer.events.filter((e) => e.id !== undefined).map((e) => e.id)).toEqual(["1"]);
    const cancel = await fetch(`${server.url}/requests/${s.requestId}`, {
      method: "DELETE",
      headers: { [TOKEN]: token },
    });
    expect(cancel.status).toBe(204);
    // Both ranks write their marker: the directory is removed only once neither still writes.
    await waitForFile(join(dir.path, "aborted-0"));
    await waitForFile(join(dir.path, "aborted-1"));
    await newcomer.ended;
    expect(newcomer.events.at(-1)).toMatchObject({ event: "error", id: "2" });
    // The replaced client neither resumed nor cancelled.
    expect(sent).toEqual(["POST"]);
  });
});
