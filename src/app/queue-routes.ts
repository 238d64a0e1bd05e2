/**
 * fal's queue API, under the app's id, as fal's clients call it on `queue.fal.run` (docs/queue.md):
 * submit, status (with logs), status stream, result and cancel, plus troupe's own event stream of
 * a queued request with resume. Served under `/queue` (`/queue/{appId}/...`), and on bare paths
 * for a Host named `queue.*` (fal-hosts.ts rewrites those). Every answer comes from the store,
 * so any replica answers for any request.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ErrorCode } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import { encodeEvent } from "../events/sse-fields.ts";
import { QUEUE_PATH, QueueHeader, SseHeader } from "../events/sse-names.ts";
import { onAbort } from "../internal/abort-of.ts";
import type {
  LogEntry,
  Priority,
  QueueEntry,
  QueueStore,
  RequestRecord,
  StoredEvent,
} from "../queue/queue-store.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { validatedInput } from "./endpoint-routes.ts";
import { BadRequestError, NotFoundError } from "./errors.ts";
import { requestTimeoutOf } from "./fal-request-timeout.ts";
import type { HttpServer } from "./http-server.ts";
import { assertOpen, type ServerContext } from "./server-context.ts";
import { SseConnection } from "./sse-connection.ts";
import { checkWebhookUrl } from "./webhook-url.ts";

/** What the queue routes use besides the server's context. */
export interface QueueRouteOptions {
  readonly store: QueueStore;
  readonly appId: string;
}

export function registerQueueRoutes(
  server: HttpServer,
  context: ServerContext,
  { store, appId }: QueueRouteOptions,
): void {
  const base = `${QUEUE_PATH}/${appId}`;
  for (const e of context.endpoints) {
    const path = e.path === "/" ? base : `${base}${e.path}`;
    server.post(path, (request, reply) => submit(context, store, appId, e, request, reply));
  }
  const requests = `${base}/requests/:id`;
  server.get(`${requests}/status`, async (request) => {
    const record = await ownRecord(context, store, request);
    const withLogs = logsWanted(request);
    const logs = withLogs ? await store.logs(record.entry.id) : undefined;
    return statusBody(request, appId, record, logs);
  });
  server.get(`${requests}/status/stream`, (request, reply) =>
    statusStream(context, store, appId, request, reply),
  );
  server.get(requests, async (request, reply) => {
    const record = await ownRecord(context, store, request);
    return sendResult(reply, record);
  });
  server.put(`${requests}/cancel`, async (request, reply) => {
    await ownRecord(context, store, request);
    const id = idOf(request);
    const result = await store.cancel(id);
    if (result === "CANCELLATION_REQUESTED") return reply.code(202).send({ status: result });
    // fal's `{status}`, and troupe's error body beside it, as every other refusal has.
    const error =
      result === "NOT_FOUND"
        ? new RequestNotInQueueError(`No request ${id} in the queue of this app`)
        : new BadRequestError(`Request ${id} has already completed`);
    const wire = publicError(error, request.id);
    return reply
      .code(result === "NOT_FOUND" ? 404 : 400)
      .send({ status: result, error: wire, detail: wire.message });
  });
  server.get(`${requests}/events`, (request, reply) => eventStream(context, store, request, reply));
}

async function submit(
  context: ServerContext,
  store: QueueStore,
  appId: string,
  e: EndpointDefinition,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<unknown> {
  assertOpen(context);
  const input = validatedInput(e, request);
  const query = request.query as Record<string, unknown>;
  const webhookUrl = typeof query.fal_webhook === "string" ? query.fal_webhook : undefined;
  if (webhookUrl !== undefined) checkWebhookUrl(webhookUrl);
  const entry: QueueEntry = {
    id: request.id,
    appId,
    endpoint: e.path,
    input,
    priority: priorityOf(request.headers[QueueHeader.priority]),
    submittedAt: Date.now(),
    timeout: requestTimeoutOf(request.headers[QueueHeader.timeout]),
    webhookUrl,
    owner: context.principals.get(request.raw),
  };
  const position = await store.submit(entry);
  return reply.send({
    request_id: entry.id,
    status: "IN_QUEUE",
    queue_position: position,
    ...urlsOf(request, appId, entry.id),
  });
}

/** A status stream: one status object per change, ending after `COMPLETED`. */
async function statusStream(
  context: ServerContext,
  store: QueueStore,
  appId: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const record = await ownRecord(context, store, request);
  const id = record.entry.id;
  const withLogs = logsWanted(request);
  const writer = openSse(context, reply);
  let last = "";
  const write = async (current: RequestRecord): Promise<void> => {
    const logs = withLogs ? await store.logs(id) : undefined;
    const json = JSON.stringify(statusBody(request, appId, current, logs));
    if (json === last) return;
    last = json;
    await writer.write(encodeEvent({ data: json }));
  };
  try {
    await write(record);
    if (record.phase === "COMPLETED") return;
    // Until it runs, its position changes as requests ahead of it are taken or cancelled (the
    // store says when); then each event it appends is a change of its status.
    let wake = nextMove(store, writer.signal);
    while (!writer.signal.aborted) {
      const current = await store.get(id);
      if (current === undefined) return;
      if (current.phase !== "IN_QUEUE") break;
      await write(current);
      await wake;
      wake = nextMove(store, writer.signal);
    }
    for await (const _event of store.events(id, 0, writer.signal)) {
      const current = await store.get(id);
      if (current === undefined) return;
      await write(current);
      if (current.phase === "COMPLETED") return;
    }
    const final = await store.get(id);
    if (final !== undefined) await write(final);
  } finally {
    writer.end();
  }
}

/**
 * A queued request's events in troupe's dialect, numbered as the store numbered them, from
 * after `Last-Event-ID` (header, or `?lastEventId=`) on: any replica replays them, none lost or
 * repeated, then follows the request live until its last event.
 */
async function eventStream(
  context: ServerContext,
  store: QueueStore,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const record = await ownRecord(context, store, request);
  const after = lastEventIdOf(request);
  const writer = openSse(context, reply, { [SseHeader.dialect]: "troupe" });
  try {
    if (record.phase === "IN_QUEUE" && record.position !== undefined) {
      await writer.write(encodeEvent({ event: "queued", data: `{"position":${record.position}}` }));
    }
    for await (const stored of store.events(record.entry.id, after, writer.signal, record)) {
      await writer.write(encodeStored(stored));
    }
  } finally {
    writer.end();
  }
}

/** A stored event as troupe's dialect writes it: `started` carries no id, the rest theirs. */
function encodeStored({ seq, event }: StoredEvent): Uint8Array {
  if (event.type === "started")
    return encodeEvent({ event: "started", id: String(seq), data: "{}" });
  return encodeEvent({ event: event.type, id: String(seq), data: event.data });
}

/** The result of a completed request: its output, or its error with the status it maps to. */
function sendResult(reply: FastifyReply, record: RequestRecord): FastifyReply {
  reply.header(SseHeader.falRequestId, record.entry.id);
  const outcome = record.outcome;
  if (record.phase !== "COMPLETED" || outcome === undefined) {
    throw new BadRequestError(
      `Request ${record.entry.id} is still ${record.phase === "IN_QUEUE" ? "in the queue" : "in progress"}`,
    );
  }
  if (outcome.ok) return reply.type("application/json; charset=utf-8").send(outcome.output);
  const status =
    outcome.error.code === ErrorCode.REQUEST_TIMEOUT
      ? 504
      : outcome.error.code === ErrorCode.ABORTED
        ? 400
        : 500;
  return reply
    .code(status)
    .type("application/json; charset=utf-8")
    .send(JSON.stringify({ error: outcome.error, detail: outcome.error.message }));
}

/** fal's status object for `record`, with the three URLs and, when asked, the logs. */
function statusBody(
  request: FastifyRequest,
  appId: string,
  record: RequestRecord,
  logs: LogEntry[] | undefined,
): Record<string, unknown> {
  const id = record.entry.id;
  const common = { request_id: id, ...urlsOf(request, appId, id) };
  switch (record.phase) {
    case "IN_QUEUE":
      return { status: "IN_QUEUE", queue_position: record.position ?? 0, ...common, logs: null };
    case "IN_PROGRESS":
      return { status: "IN_PROGRESS", ...common, logs: logs ?? null };
    case "COMPLETED": {
      const outcome = record.outcome;
      const seconds =
        record.startedAt !== undefined && record.completedAt !== undefined
          ? (record.completedAt - record.startedAt) / 1000
          : null;
      return {
        status: "COMPLETED",
        ...common,
        logs: logs ?? null,
        metrics: { inference_time: seconds },
        ...(outcome !== undefined && !outcome.ok
          ? { error: outcome.error.message, error_type: outcome.error.code }
          : {}),
      };
    }
  }
}

/** The request named in the URL, if it is known and belongs to the caller; 404 otherwise. */
async function ownRecord(
  context: ServerContext,
  store: QueueStore,
  request: FastifyRequest,
): Promise<RequestRecord> {
  const id = idOf(request);
  const record = UUID.test(id) ? await store.get(id) : undefined;
  // Another key's request is answered as one that does not exist: its id tells nobody else anything.
  if (record === undefined || record.entry.owner !== context.principals.get(request.raw)) {
    throw new RequestNotInQueueError(`No request ${id} in the queue of this app`);
  }
  return record;
}

/** 404 for a request id the queue does not know (never had, expired, or someone else's). */
class RequestNotInQueueError extends NotFoundError {
  override name = "RequestNotInQueueError";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

/** The URLs fal's status objects carry, on the host and scheme the request came by. */
function urlsOf(request: FastifyRequest, appId: string, id: string) {
  const host = request.headers.host ?? "localhost";
  // A `queue.*` host serves the queue without the prefix, as queue.fal.run does.
  const prefix = host.startsWith("queue.") ? "" : QUEUE_PATH;
  const base = `${request.protocol}://${host}${prefix}/${appId}/requests/${id}`;
  return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
}

function logsWanted(request: FastifyRequest): boolean {
  const value = (request.query as Record<string, unknown>).logs;
  return value === "1" || value === "true";
}

function priorityOf(header: string | string[] | undefined): Priority {
  const value = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase();
  if (value === undefined || value === "" || value === "normal") return "normal";
  if (value === "low") return "low";
  throw new BadRequestError(
    `Expected ${QueueHeader.priority} to be "normal" or "low", got ${JSON.stringify(header)}`,
  );
}

function lastEventIdOf(request: FastifyRequest): number {
  const header = request.headers[SseHeader.lastEventId];
  const query = (request.query as Record<string, unknown>).lastEventId;
  const raw =
    (Array.isArray(header) ? header[0] : header) ?? (typeof query === "string" ? query : undefined);
  if (raw === undefined || raw === "") return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new BadRequestError(
      `Expected Last-Event-ID to be an event number, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/** An SSE response: backpressure honoured, a heartbeat comment while nothing else is written. */
interface SseWriter {
  /** Aborts when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
  write(bytes: Uint8Array): Promise<void>;
  end(): void;
}

function openSse(
  context: ServerContext,
  reply: FastifyReply,
  headers: Record<string, string> = {},
): SseWriter {
  reply.hijack();
  for (const [name, value] of Object.entries(headers)) reply.header(name, value);
  const { heartbeatInterval, timers } = context.options;
  const connection = new SseConnection(reply.raw, reply.getHeaders(), heartbeatInterval, timers);
  context.metrics.openStreams.inc();
  onAbort(connection.closed, () => context.metrics.openStreams.dec());
  return {
    signal: connection.closed,
    async write(bytes) {
      connection.write(bytes);
      if (connection.blocked) await connection.drained();
    },
    end: () => connection.end(),
  };
}

/** Resolves when queue positions next move (the store says so), or at once when `signal` aborts. */
function nextMove(store: QueueStore, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let offAbort = (): void => {};
    const done = (): void => {
      off();
      offAbort();
      resolve();
    };
    const off = store.onMoved(done);
    offAbort = onAbort(signal, done);
  });
}
