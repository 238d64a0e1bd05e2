/**
 * A streaming client that takes nothing while events wait for it must not hold the runner: after
 * `slowReaderTimeout` its request fails with SLOW_READER on every rank and the next one starts.
 * The timeout is driven by hand (the server's injected timers), so nothing here waits on a clock.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  App,
  endpoint,
  type HeartbeatTimers,
  type ServerHandle,
  StreamingResponse,
} from "../../src/app/index.ts";
import { realTimers } from "../../src/app/sse-connection.ts";
import { DistributedRunner } from "../../src/index.ts";
import type FloodWorker from "../fixtures/app/flood-worker.ts";
import type { Flood } from "../fixtures/app/flood-worker.ts";
import { tempDir, waitForFile } from "../helpers.ts";
import { RawExchange, recordingPino, serveForTest } from "./helpers.ts";

const SLOW_READER_MS = 30_000;
/** Results far larger than every buffer between the worker and a client that does not read. */
const PAD = 32 * 1024;

const FloodInput = z.object({
  pad: z.number().int(),
  count: z.number().int().optional(),
  dir: z.string(),
});

class FloodApp extends App {
  runner!: DistributedRunner<FloodWorker>;
  override async setup() {
    this.runner = new DistributedRunner<FloodWorker>({
      worker: new URL("../fixtures/app/flood-worker.ts", import.meta.url),
      worldSize: 2,
      gpus: [],
      highWaterMark: 16,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    await this.runner.start();
  }

  @endpoint("/flood", { input: FloodInput, streaming: true })
  async flood(input: z.infer<typeof FloodInput>) {
    return new StreamingResponse(this.runner.stream(input as Flood, { asTextEvents: true }));
  }
}

/**
 * The server's timers, with the slow-reader timeouts (those of `ms`) held for the test to fire
 * or watch being cleared; heartbeats are off in these tests, other timeouts are real.
 */
class SlowReaderTimers implements HeartbeatTimers {
  private readonly live = new Map<number, () => void>();
  private last = 0;
  private armWaiters: ((handle: number) => void)[] = [];
  private readonly clearWaiters = new Map<number, () => void>();
  /** How many timeouts were fired. */
  fired = 0;

  constructor(private readonly ms: number) {}

  setInterval(): unknown {
    return 0;
  }
  clearInterval(): void {}
  setTimeout(callback: () => void, ms: number): unknown {
    if (ms !== this.ms) return realTimers.setTimeout(callback, ms);
    const handle = ++this.last;
    this.live.set(handle, callback);
    for (const resolve of this.armWaiters.splice(0)) resolve(handle);
    return handle;
  }
  clearTimeout(handle: unknown): void {
    if (typeof handle !== "number") {
      realTimers.clearTimeout(handle);
      return;
    }
    this.live.delete(handle);
    this.clearWaiters.get(handle)?.();
    this.clearWaiters.delete(handle);
  }

  /** A slow-reader timeout armed now, or the next one to be. */
  armed(): Promise<number> {
    if (this.live.has(this.last)) return Promise.resolve(this.last);
    return new Promise((resolve) => this.armWaiters.push(resolve));
  }

  /** Resolves once `handle` is cleared: its reader took something in time. */
  cleared(handle: number): Promise<void> {
    if (!this.live.has(handle)) return Promise.resolve();
    return new Promise((resolve) => this.clearWaiters.set(handle, resolve));
  }

  /** Lets `ms` pass for the timeout `handle`; `false` if it was cleared already. */
  fire(handle: number): boolean {
    const callback = this.live.get(handle);
    if (callback === undefined) return false;
    this.live.delete(handle);
    this.fired += 1;
    callback();
    return true;
  }

  /** Lets the time run out for a reader that takes nothing: fires the first timeout still armed. */
  async expire(): Promise<void> {
    while (!this.fire(await this.armed())) {
      // Cleared before it could fire (the socket's buffers were still filling): the next one.
    }
  }
}

const requestLine = (l: Record<string, unknown>) => l.url === "/flood" && l.status === 200;

describe.each([
  ["fal", {}],
  ["troupe", { "troupe-dialect": "troupe" }],
])("a slow reader in %s's dialect", (_dialect, headers) => {
  let server: ServerHandle;
  let timers: SlowReaderTimers;
  let log: ReturnType<typeof recordingPino>;
  beforeAll(async () => {
    timers = new SlowReaderTimers(SLOW_READER_MS);
    log = recordingPino();
    server = await serveForTest(FloodApp, {
      timers,
      slowReaderTimeout: SLOW_READER_MS,
      heartbeatInterval: 0,
      logger: log.logger,
    });
  });
  afterAll(() => server.close());

  it("that reads nothing fails its own request with SLOW_READER on every rank, and the next request runs", async () => {
    using dir = tempDir();
    const reader = await RawExchange.post(server, "/flood", { pad: PAD, dir: dir.path }, headers);
    reader.socket.pause();
    await timers.expire();
    for (const rank of [0, 1]) {
      const marker = join(dir.path, `aborted-${rank}`);
      await waitForFile(marker);
      expect(readFileSync(marker, "utf8")).toMatch(
        /The client read nothing for 30000 ms while events waited for it/,
      );
    }
    const line = await log.line((l) => requestLine(l) && l.code === "SLOW_READER");
    expect(line).toMatchObject({ msg: "request failed", outcome: "failed", code: "SLOW_READER" });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /troupe_http_requests_total\{method="POST",route="\/flood",status="200",outcome="failed",code="SLOW_READER"\} 1/,
    );
    // Its connection was dropped: what it reads now ends without the terminating chunk.
    reader.socket.resume();
    await reader.ended;
    expect(reader.complete).toBe(false);
    // The runner is free: the next request streams to its end.
    const next = await RawExchange.post(
      server,
      "/flood",
      { pad: 1, count: 3, dir: dir.path },
      headers,
    );
    await next.ended;
    expect(next.complete).toBe(true);
    expect(next.events.filter((e) => e.data.includes('"pad"'))).toHaveLength(3);
  });

  it("that is slow but takes something now and then is never cancelled", async () => {
    using dir = tempDir();
    const fired = timers.fired;
    const count = 1500;
    const reader = await RawExchange.post(
      server,
      "/flood",
      { pad: PAD, count, dir: dir.path },
      headers,
    );
    for (let pause = 0; pause < 3; pause++) {
      reader.socket.pause();
      const handle = await timers.armed();
      // Before its time is up, the reader takes some: the timeout is cleared.
      reader.socket.resume();
      await timers.cleared(handle);
    }
    await reader.ended;
    expect(reader.complete).toBe(true);
    expect(reader.events.filter((e) => e.data.includes('"pad"'))).toHaveLength(count);
    expect(timers.fired).toBe(fired);
    const lines = log.lines.filter(requestLine);
    expect(lines.at(-1)).toMatchObject({ msg: "request completed", outcome: "ok" });
  });
});

describe("a slow reader in troupe's dialect that resumes", () => {
  let server: ServerHandle;
  let timers: SlowReaderTimers;
  beforeAll(async () => {
    timers = new SlowReaderTimers(SLOW_READER_MS);
    server = await serveForTest(FloodApp, {
      timers,
      slowReaderTimeout: SLOW_READER_MS,
      heartbeatInterval: 0,
    });
  });
  afterAll(() => server.close());

  it("starts the time again for the connection it resumes on", async () => {
    using dir = tempDir();
    const count = 400;
    const first = await RawExchange.post(
      server,
      "/flood",
      { pad: PAD, count, dir: dir.path },
      { "troupe-dialect": "troupe" },
    );
    await first.until(() => first.text.includes("\r\n\r\n"));
    first.socket.pause();
    const handle = await timers.armed();
    const head = first.text.slice(0, first.text.indexOf("\r\n\r\n"));
    const id = /x-request-id: (.*)/i.exec(head)?.[1]?.trim() as string;
    const token = /troupe-resume-token: (.*)/i.exec(head)?.[1]?.trim() as string;
    const resumed = await RawExchange.open(server, "GET", `/flood?requestId=${id}`, {
      headers: { "troupe-dialect": "troupe", "troupe-resume-token": token, "last-event-id": "0" },
    });
    // The first reader's time no longer runs: it was replaced.
    await timers.cleared(handle);
    first.socket.destroy();
    await resumed.ended;
    expect(resumed.complete).toBe(true);
    const ids = resumed.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    expect(ids).toEqual([...Array(count + 1).keys()].map((i) => i + 1));
    expect(resumed.events.at(-1)?.event).toBe("done");
    expect(timers.fired).toBe(0);
  });
});
