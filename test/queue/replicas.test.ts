/**
 * Three replicas of one app, each a real process with two real ranks, sharing one real
 * redis-server: the queue is one, whichever replica a client talks to. Submit on one and read on
 * another, resume a queued request's events elsewhere, cancel from a replica that does not run
 * it, SIGKILL the replica that runs a request mid-stream, and stop one with SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createFalClient } from "@fal-ai/client";
import { createParser } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RedisServer } from "../fixtures/redis-server.ts";
import { isRunning, tempDir, waitForFile } from "../helpers.ts";

const APP_ID = "local/replicas";
// Renewed every third of it: a replica must stall for two thirds of a lease (2 s) before another
// takes its request over, which a loaded machine's pauses stay well under.
const LEASE_MS = 3000;
const tsx = createRequire(import.meta.url).resolve("tsx");

interface Replica {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
}

let redis: RedisServer;
let replicas: Replica[] = [];

async function startReplica(): Promise<Replica> {
  const child = spawn(
    process.execPath,
    ["--import", tsx, new URL("../fixtures/replicas/replica-main.ts", import.meta.url).pathname],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TROUPE_REDIS_URL: redis.url, REPLICA_LEASE_MS: String(LEASE_MS) },
    },
  );
  let output = "";
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("\n")) resolve(output.slice(0, output.indexOf("\n")));
    });
    child.once("exit", (code) =>
      reject(new Error(`the replica exited (${code}) before it served`)),
    );
  });
  const { url, pid } = JSON.parse(line) as { url: string; pid: number };
  return { url, pid, child };
}

beforeAll(async () => {
  redis = await RedisServer.start();
  replicas = await Promise.all([startReplica(), startReplica(), startReplica()]);
}, 60_000);

afterAll(async () => {
  for (const r of replicas) r.child.kill("SIGTERM");
  await Promise.all(
    replicas.map((r) =>
      r.child.exitCode !== null || r.child.signalCode !== null
        ? undefined
        : new Promise((resolve) => r.child.once("exit", resolve)),
    ),
  );
  await redis?.stop();
});

const queueUrl = (replica: Replica, path = "") => `${replica.url}/queue/${APP_ID}${path}`;

async function submit(replica: Replica, input: unknown, path = ""): Promise<string> {
  const response = await fetch(queueUrl(replica, path), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(input),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { request_id: string }).request_id;
}

interface Sse {
  readonly event?: string;
  readonly id?: string;
  readonly data: unknown;
}

/** Reads a queued request's events from `replica`, from after `lastEventId`, until `stop` says so or the stream ends. */
async function readEvents(
  replica: Replica,
  id: string,
  lastEventId?: string,
  stop: (events: Sse[]) => boolean = () => false,
): Promise<Sse[]> {
  const controller = new AbortController();
  const response = await fetch(queueUrl(replica, `/requests/${id}/events`), {
    headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId },
    signal: controller.signal,
  });
  const events: Sse[] = [];
  const parser = createParser({
    onEvent: (m) => events.push({ event: m.event, id: m.id, data: JSON.parse(m.data) }),
  });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (stop(events)) {
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return events;
}

async function status(replica: Replica, id: string): Promise<Record<string, unknown>> {
  return (await (await fetch(queueUrl(replica, `/requests/${id}/status`))).json()) as Record<
    string,
    unknown
  >;
}

describe("replicas sharing one Redis", () => {
  it("@fal-ai/client subscribes through one replica to a request any replica runs", async () => {
    const [a, b] = replicas as [Replica, Replica];
    const fal = createFalClient({
      requestMiddleware: async (request) => ({
        ...request,
        url: request.url.replace("https://queue.fal.run", `${a.url}/queue`),
      }),
    });
    const result = await fal.subscribe(APP_ID, {
      input: { op: "echo", value: "through redis" },
      pollInterval: 20,
    });
    expect(result.data).toBe("through redis");
    // Another replica knows it too.
    expect(await status(b, result.requestId)).toMatchObject({ status: "COMPLETED" });
    const fromB = await fetch(queueUrl(b, `/requests/${result.requestId}`));
    expect(await fromB.json()).toBe("through redis");
  });

  it("resumes a queued request's events on another replica, none lost or repeated", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const id = await submit(a, { op: "steps", count: 6 }, "/stream");
    const whole = await readEvents(c, id);
    const numbered = whole.filter((e) => e.id !== undefined);
    expect(numbered.at(-1)?.event).toBe("done");
    // A reader on b drops after its third numbered event and resumes on c.
    const first = await readEvents(
      b,
      id,
      undefined,
      (events) => events.filter((e) => e.id).length >= 3,
    );
    const seen = first.filter((e) => e.id !== undefined).slice(0, 3);
    const rest = await readEvents(c, id, seen.at(-1)?.id);
    expect([...seen, ...rest.filter((e) => e.id !== undefined)]).toEqual(numbered);
  });

  it("a cancel sent to one replica reaches every rank of the replica that runs the request", async () => {
    using dir = tempDir();
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const id = await submit(a, { op: "hold", dir: dir.path });
    await vi.waitFor(() => expect(heldBy(dir.path)).toHaveLength(2), { timeout: 10_000 });
    const runner = Number((heldBy(dir.path)[0] as string).split("-")[2]);
    const other = [a, b, c].find((r) => r.pid !== runner) as Replica;
    const cancel = await fetch(queueUrl(other, `/requests/${id}/cancel`), { method: "PUT" });
    expect(cancel.status).toBe(202);
    for (const rank of [0, 1]) await waitForFile(join(dir.path, `aborted-${rank}-${runner}`));
    const events = await readEvents(other, id);
    expect(events.at(-1)).toMatchObject({
      event: "error",
      data: { fatal: true, error: { code: "ABORTED" } },
    });
  });

  it("a replica killed mid-stream: another takes the request over and it completes, a retry event between", async () => {
    using dir = tempDir();
    const { id, victim } = await stepsHeldOnAReplica(dir.path);
    const exited = new Promise((resolve) => victim.child.once("exit", resolve));
    victim.child.kill("SIGKILL");
    await exited;
    const survivors = replicas.filter((r) => r !== victim);
    // The next attempt may go on at once: its worker waits for `go` only if it is not there yet.
    writeFileSync(join(dir.path, "go"), "");
    const events = await readEvents(survivors[0] as Replica, id);
    const kinds = events.filter((e) => e.id !== undefined).map((e) => e.event);
    expect(kinds).toContain("retry");
    expect(kinds.at(-1)).toBe("done");
    const done = events.at(-1)?.data as { replica: number };
    expect(survivors.map((r) => r.pid)).toContain(done.replica);
    const retry = events.find((e) => e.event === "retry")?.data as { attempt: number };
    expect(retry.attempt).toBe(2);
    expect(await status(survivors[1] as Replica, id)).toMatchObject({ status: "COMPLETED" });
    // The killed replica's ranks died with it.
    replicas = survivors.concat(await startReplica());
    expect(isRunning(victim.pid)).toBe(false);
  });

  it("a replica stopped with SIGTERM mid-stream hands its request back: another runs it at once, a retry event between", async () => {
    using dir = tempDir();
    const { id, victim } = await stepsHeldOnAReplica(dir.path);
    const exited = new Promise<number | null>((resolve) =>
      victim.child.once("exit", (code) => resolve(code)),
    );
    victim.child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const survivors = replicas.filter((r) => r !== victim);
    writeFileSync(join(dir.path, "go"), "");
    const events = await readEvents(survivors[0] as Replica, id);
    const numbered = events.filter((e) => e.id !== undefined);
    expect(numbered.map((e) => e.event)).toContain("retry");
    // Given back by the stopping replica, not taken over once its lease ran out.
    const retry = numbered.find((e) => e.event === "retry")?.data;
    expect(retry).toMatchObject({ attempt: 2, error: { code: "SHUTTING_DOWN", requestId: id } });
    expect(numbered.at(-1)).toMatchObject({ event: "done", data: { steps: 3 } });
    const done = numbered.at(-1)?.data as { replica: number };
    expect(survivors.map((r) => r.pid)).toContain(done.replica);
    replicas = survivors.concat(await startReplica());
  });
});

/** Submits three steps that wait in `dir` after the first, and finds the replica that runs them. */
async function stepsHeldOnAReplica(dir: string): Promise<{ id: string; victim: Replica }> {
  const id = await submit(replicas[0] as Replica, { op: "steps", count: 3, dir }, "/stream");
  await vi.waitFor(() => expect(runningOn(dir)).toHaveLength(1), { timeout: 10_000 });
  const pid = runningOn(dir)[0] as number;
  const victim = replicas.find((r) => r.pid === pid);
  expect(victim, `running on ${pid}`).toBeDefined();
  return { id, victim: victim as Replica };
}

/** The `held-<rank>-<replica>` markers in `dir`. */
function heldBy(dir: string): string[] {
  // Markers are written beside (`.tmp`) and renamed into place: only the placed ones count.
  return readdirSync(dir).filter((name) => name.startsWith("held-") && !name.endsWith(".tmp"));
}

/** The replicas that wrote `running-<pid>` in `dir`. */
function runningOn(dir: string): number[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith("running-") && !name.endsWith(".tmp"))
    .map((name) => Number(name.slice("running-".length)));
}
