/**
 * The queue benchmarks' client of fal's queue routes and troupe's event stream of a queued
 * request, on node:http with keep-alive (one agent for the whole section) and eventsource-parser.
 */
import { Agent, request } from "node:http";
import { createParser } from "eventsource-parser";
import { QUEUE_APP_ID } from "./queue-app.ts";
import type { Replica } from "./queue-replicas.ts";
import type { QueueResult, QueueTask } from "./workers/queue-worker.ts";

const agent = new Agent({ keepAlive: true });

/** Closes the kept-alive sockets. */
export function closeClient(): void {
  agent.destroy();
}

/** One SSE message of a queued request's event stream. */
export interface Message {
  readonly event: string | undefined;
  readonly id: string | undefined;
  readonly data: string;
}

const queueUrl = (replica: Replica, path = "") => `${replica.url}/queue/${QUEUE_APP_ID}${path}`;

/** Submits `task` on `replica`; resolves with its request id. */
export function submit(replica: Replica, task: QueueTask): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      queueUrl(replica),
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          if (res.statusCode !== 200)
            reject(new Error(`submit answered ${res.statusCode}: ${body}`));
          else resolve((JSON.parse(body) as { request_id: string }).request_id);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(task));
  });
}

/**
 * Reads request `id`'s event stream on `replica` from after `lastEventId`, calling `onEvent` with
 * each message; resolves with the last event id seen when the stream ends, or when `onEvent`
 * returns `true` (the connection is closed then).
 */
export function readEvents(
  replica: Replica,
  id: string,
  onEvent: (message: Message) => boolean | undefined,
  lastEventId?: string,
  onOpen?: () => void,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let last = lastEventId;
    const req = request(
      queueUrl(replica, `/requests/${id}/events`),
      { agent, headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId } },
      (res) => {
        onOpen?.();
        if (res.statusCode !== 200) {
          reject(new Error(`the event stream answered ${res.statusCode}`));
          res.resume();
          return;
        }
        const parser = createParser({
          onEvent: (e) => {
            if (e.id !== undefined) last = e.id;
            let stop: boolean | undefined;
            try {
              stop = onEvent({ event: e.event, id: e.id, data: e.data });
            } catch (error) {
              reject(error);
              stop = true;
            }
            if (stop === true) {
              res.destroy();
              resolve(last);
            }
          },
        });
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => parser.feed(chunk));
        res.on("end", () => resolve(last));
        res.on("error", reject);
        res.on("close", () => (res.complete ? resolve(last) : reject(new Error("stream cut"))));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Reads request `id`'s events to its last one; resolves with the final event. */
export async function untilDone(replica: Replica, id: string): Promise<Message> {
  let final: Message | undefined;
  await readEvents(replica, id, (m) => {
    if (m.event === "done" || (m.event === "error" && isFatal(m.data))) final = m;
    return undefined;
  });
  if (final?.event !== "done") throw new Error(`request ${id} ended with ${final?.data}`);
  return final;
}

function isFatal(data: string): boolean {
  return (JSON.parse(data) as { fatal?: boolean }).fatal !== false;
}

/** A request holding a replica's runner until it is cancelled. */
export interface Held {
  readonly id: string;
  /** The pid of the replica that runs it. */
  readonly replica: number;
}

/**
 * One `hold` request per replica: a replica takes one only while its runner is free, so each
 * runs on its own replica. Resolves once every one streamed its first result.
 */
export function holdRunners(replicas: readonly Replica[]): Promise<Held[]> {
  return Promise.all(
    replicas.map(async (r) => {
      const id = await submit(r, { op: "hold" });
      let replica = 0;
      await readEvents(r, id, (m) => {
        if (m.event !== "result") return undefined;
        replica = (JSON.parse(m.data) as QueueResult).replica;
        return true;
      });
      return { id, replica };
    }),
  );
}

/** Cancels request `id` through `replica`. */
export function cancel(replica: Replica, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      queueUrl(replica, `/requests/${id}/cancel`),
      { method: "PUT", agent },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 202
            ? resolve()
            : reject(new Error(`cancel answered ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}
