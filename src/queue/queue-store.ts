/**
 * What a queue of requests is made of, whatever keeps it: in one process (memory-store.ts) or in
 * a Redis that many replicas of one app share (redis-store.ts). The queue worker (queue-worker.ts)
 * takes requests from a store when one of its runners is free and writes what they produce back;
 * the queue routes (src/app/queue-routes.ts) submit, read and cancel through it. Both stores pass
 * the same contract tests (test/queue/store-contract.test.ts).
 *
 * Everything a store keeps is JSON: a request's input as its endpoint validated it, its events as
 * the `data:` text both SSE dialects send (src/events/event-data.ts), its output likewise.
 */
import type { PublicError } from "../events/public-error.ts";

/** fal's two queue priorities (`x-fal-queue-priority`); `normal` requests all go before `low` ones. */
export type Priority = "normal" | "low";

/** A request as it was submitted: everything needed to run it on any replica. */
export interface QueueEntry {
  /** The server-chosen id (a UUID): fal's `request_id`. */
  readonly id: string;
  /** The app id the request was submitted under (`owner/alias`). */
  readonly appId: string;
  /** The endpoint's path in the app (`/`, `/stream`, …). */
  readonly endpoint: string;
  /** The endpoint's input, as its schema parsed it. */
  readonly input: unknown;
  readonly priority: Priority;
  /** When it was submitted, in ms since the epoch (the store's clock). */
  readonly submittedAt: number;
  /** `x-fal-request-timeout`, in ms: the request fails with REQUEST_TIMEOUT this long after submission. */
  readonly timeout?: number | undefined;
  /** `?fal_webhook=`: where its outcome is POSTed. */
  readonly webhookUrl?: string | undefined;
  /** Who submitted it (a key's fingerprint), when keys are set: only they may read or cancel it. */
  readonly owner?: string | undefined;
}

/** fal's three request states. A failed request is `COMPLETED` with an error. */
export type Phase = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED";

/** One line a request's ranks logged while it ran: fal's log entry. */
export interface LogEntry {
  readonly message: string;
  /** `INFO`, `WARN`, `ERROR`, `DEBUG`, `STDOUT` or `STDERR`. */
  readonly level: string;
  readonly source: "USER";
  /** ISO 8601. */
  readonly timestamp: string;
}

/** How a request ended. */
export type Outcome =
  | { readonly ok: true /** The output's JSON text. */; readonly output: string }
  | { readonly ok: false; readonly error: PublicError };

/** A request as a store knows it at one moment. */
export interface RequestRecord {
  readonly entry: QueueEntry;
  readonly phase: Phase;
  /** Requests ahead of it (`IN_QUEUE` only): global, across every replica. */
  readonly position?: number | undefined;
  /** How many times it was started (1 on its first run, 2 after one takeover, …); 0 while queued. */
  readonly attempt: number;
  /** When its current attempt started, and when it completed, in ms since the epoch. */
  readonly startedAt?: number | undefined;
  readonly completedAt?: number | undefined;
  readonly outcome?: Outcome | undefined;
}

/**
 * One event of a queued request, numbered from 1 in the order it was appended: the number is the
 * SSE `id:` a client resumes from (`Last-Event-ID`), the same on every replica.
 */
export interface StoredEvent {
  readonly seq: number;
  readonly event: StoredEventBody;
}

/**
 * An event's kind and its `data:` JSON text as troupe's dialect writes it. `retry`: the request's
 * previous attempt was lost with its replica and it runs again from the start (data:
 * `{"attempt":n,"error":<public error>}`). A `done` or a fatal `error` is the last event.
 */
export interface StoredEventBody {
  readonly type: "started" | "result" | "error" | "done" | "retry";
  readonly data: string;
  /** `error` only: `false` for a worker's non-fatal streaming error. */
  readonly fatal?: boolean | undefined;
  /**
   * `result` only: a latest-wins key (a preview). A store may keep only the newest event of a key
   * once newer ones follow, and caps how many events of one request it keeps.
   */
  readonly key?: string | undefined;
}

/** What `cancel` found. */
export type CancelResult = "CANCELLATION_REQUESTED" | "ALREADY_COMPLETED" | "NOT_FOUND";

/**
 * A request this replica took and runs: it holds the request until `complete`, renewing its lease
 * by itself. Only the holder appends to it, its `started` event first (the store writes none).
 * When the request is cancelled from any replica, `signal` aborts with an AbortError (code
 * ABORTED) and the holder still appends its last event and completes. When the lease is lost
 * (the store was unreachable for longer than the lease, and another replica took the request
 * over), `signal` aborts with a LeaseLostError, and appends, logs and `complete` reject with it;
 * after `complete` they reject with LEASE_LOST too.
 */
export interface Lease {
  readonly entry: QueueEntry;
  /** 1 for the first run; more after takeovers. */
  readonly attempt: number;
  readonly signal: AbortSignal;
  /** Appends an event; resolves once it is recorded. */
  append(event: StoredEventBody): Promise<void>;
  /** Appends a log entry. */
  log(entry: LogEntry): Promise<void>;
  /**
   * Records the outcome and lets the request go. Unless the holder appended the last event (`done`
   * or a fatal `error`) itself, the store appends the outcome's own with it, in one step: a reader
   * that sees that event finds the request completed (queue-execution.ts leaves it to this).
   */
  complete(outcome: Outcome): Promise<void>;
  /**
   * Gives the request back to the queue because this replica is stopping: it waits again in its
   * own place (ahead of everything submitted after it) for another replica to run it from the
   * start, its stream shows a `retry` event whose error is `reason`, and the run is not counted
   * against `maxAttempts`. Resolves `true` once that is recorded: then `signal` aborts with a
   * LeaseLostError and every write is refused. Resolves `false` when it could not be done (the
   * store unreachable, the lease lost, or the request cancelled meanwhile: `signal` aborts with
   * its AbortError then, and the holder completes it as usual). Stores that no other replica
   * shares have none: a stopping replica fails what it runs instead.
   */
  handBack?(reason: Error): Promise<boolean>;
}

/** Whether a store can take new requests (Redis reachable) and how many wait. */
export interface StoreHealth {
  readonly connected: boolean;
  readonly queued: number;
}

export interface QueueStore {
  /**
   * Records a request at the back of its priority; resolves with its position once it is
   * recorded. Rejects with QUEUE_UNAVAILABLE when it cannot be recorded (Redis away, store
   * closed), and INVALID_ARGUMENT for an id the store already has.
   */
  submit(entry: QueueEntry): Promise<number>;
  /** The request's record; `undefined` if unknown or expired. */
  get(id: string): Promise<RequestRecord | undefined>;
  /** Its logs so far, oldest first. */
  logs(id: string): Promise<LogEntry[]>;
  /**
   * Its events after `afterSeq`, oldest first, then each new one as it is appended, ending after
   * the last (a `done` or fatal `error`), or when `signal` aborts. Empty if the request is unknown.
   * `known` is its record as the caller read it just now, which spares the store reading it again
   * before the replay.
   */
  events(
    id: string,
    afterSeq: number,
    signal: AbortSignal,
    known?: RequestRecord,
  ): AsyncIterable<StoredEvent>;
  /**
   * Cancels a request from any replica: a queued one is removed and completes without running,
   * with an ABORTED error (an AbortError's public form) as its outcome and its one event (fatal
   * `error`); a running one's lease `signal` aborts on the replica that runs it.
   */
  cancel(id: string): Promise<CancelResult>;
  /**
   * Waits for the next request (normal priority first, then by submission) and takes it, or for a
   * request whose replica stopped renewing its lease (taken over, its attempt counted: one past
   * `maxAttempts` completes with an ATTEMPTS_EXHAUSTED error instead). Resolves `undefined` when
   * `signal` aborts. Call it only when a runner is free to run what it returns.
   */
  take(signal: AbortSignal): Promise<Lease | undefined>;
  /**
   * Tells `listener` each time queue positions may have changed, on any replica (a request was
   * taken or cancelled, or a normal one submitted ahead of low ones); returns the unsubscribe.
   * A status stream re-reads its request's position then, never on a timer.
   */
  onMoved(listener: () => void): () => void;
  health(): StoreHealth;
  /** Stops renewing leases and closes connections; requests it holds are taken over elsewhere. */
  close(): Promise<void>;
}

/** How the queue runs requests. */
export interface QueueOptions {
  /**
   * How long a replica that stops renewing (killed, cut off) holds its running requests before
   * another replica takes them over, in ms. @default 10000
   */
  readonly leaseTime?: number;
  /**
   * Runs of one request, counting the first, when replicas die under it (a run handed back by a
   * stopping replica is not counted). @default 2
   */
  readonly maxAttempts?: number;
  /** How long a completed request's result, events and logs are kept, in ms. @default 86400000 */
  readonly retention?: number;
  /** The most events kept of one queued request; older ones are dropped first. @default 10000 */
  readonly maxEvents?: number;
  /** Requests this replica runs at once. @default the number of the app's runners (at least 1) */
  readonly concurrency?: number;
}

/** What a store is given: the queue's options it keeps to, and its clock. */
export interface StoreOptions extends Omit<QueueOptions, "concurrency"> {
  /** The clock, in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /**
   * Told when the store itself completes a request no holder ran to its end (a queued request
   * cancelled, one out of attempts), once, on the replica that did it; the holder's own outcomes
   * reach the queue worker instead. Webhooks go out from both.
   */
  readonly onCompleted?: (entry: QueueEntry, outcome: Outcome) => void;
}
