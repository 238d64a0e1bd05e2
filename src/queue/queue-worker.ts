import { ErrorCode, TroupeError } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import type { Lease, Outcome, QueueEntry, QueueStore } from "./queue-store.ts";
import { requestTimeoutError } from "./queued-deadlines.ts";

/**
 * Runs one queued request to its outcome: appends its events through `lease` (its last one a
 * `done` or a fatal `error`) and resolves with how it ended. `signal` aborts when the request is
 * cancelled, times out or is lost to another replica: the run must stop its work then, and its
 * reason is the request's error.
 */
export type Execute = (lease: Lease, signal: AbortSignal) => Promise<Outcome>;

export interface QueueWorkerOptions {
  /** Requests run at once (one per runner the app has). */
  readonly concurrency: number;
  readonly execute: Execute;
  /** Told of every outcome this replica recorded (webhooks go out from here). */
  readonly onComplete?: (entry: QueueEntry, outcome: Outcome) => void;
  /** Where failures of the worker itself go (never a request's own failure). */
  readonly onError: (error: unknown, message: string) => void;
  /** The clock `x-fal-request-timeout` counts on, in ms since the epoch. @default Date.now */
  readonly now?: () => number;
}

/**
 * Takes queued requests from a store whenever one of its `concurrency` slots is free, and runs
 * each with `execute`: a slot waits in `store.take()` (never polls), so a replica takes work only
 * when it can start it, and `queue_position` stays global. A request's `x-fal-request-timeout`
 * counts from its submission. `stop()` stops taking, hands what runs back to the queue where
 * the store is shared with other replicas, and cancels the rest.
 */
export class QueueWorker {
  /** Aborts when `stop()` is called: no more takes. */
  private readonly taking = new AbortController();
  /** Aborts after the hand-backs: what still runs is cancelled. */
  private readonly stopping = new AbortController();
  private slots: Promise<void>[] = [];
  private readonly running = new Set<Lease>();

  constructor(
    private readonly store: QueueStore,
    private readonly options: QueueWorkerOptions,
  ) {}

  /** Starts the slots. */
  start(): void {
    if (this.slots.length > 0) return;
    for (let i = 0; i < this.options.concurrency; i++) this.slots.push(this.slot());
  }

  /**
   * Stops taking requests and gives the running ones back to the queue (`Lease.handBack`), for
   * another replica to run; those the store cannot give back (no other replica shares it, or it
   * is out of reach for `HAND_BACK_WAIT` ms) are cancelled with `reason` as their outcome.
   * Resolves once each has been handed back or has recorded its outcome.
   */
  async stop(
    reason: Error = new TroupeError(ErrorCode.SHUTTING_DOWN, "The replica is stopping"),
  ): Promise<void> {
    this.taking.abort(reason);
    await Promise.all(
      [...this.running].map((lease) =>
        lease.handBack === undefined ? false : withinWait(lease.handBack(reason)),
      ),
    );
    this.stopping.abort(reason);
    await Promise.all(this.slots);
  }

  private async slot(): Promise<void> {
    const signal = this.taking.signal;
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await this.store.take(signal);
      } catch (error) {
        if (signal.aborted) return;
        // The store could not be read (Redis away): it reconnects; take() waits for it again.
        this.options.onError(error, "Taking the next queued request failed");
        await pause(signal);
        continue;
      }
      if (lease === undefined) return;
      // Taken just as stop() began, after it looked for leases to hand back.
      if (signal.aborted && lease.handBack !== undefined) {
        await withinWait(lease.handBack(signal.reason as Error));
      }
      this.running.add(lease);
      try {
        await this.run(lease);
      } finally {
        this.running.delete(lease);
      }
    }
  }

  private async run(lease: Lease): Promise<void> {
    const { entry } = lease;
    const now = this.options.now ?? Date.now;
    const timeout =
      entry.timeout === undefined
        ? undefined
        : timeoutSignal(entry, Math.max(0, entry.submittedAt + entry.timeout - now()));
    const signal = AbortSignal.any(
      timeout === undefined
        ? [lease.signal, this.stopping.signal]
        : [lease.signal, this.stopping.signal, timeout.signal],
    );
    let outcome: Outcome;
    try {
      outcome = await this.options.execute(lease, signal);
    } catch (error) {
      // execute() turns a request's failures into its outcome; reaching here is a bug in it.
      outcome = { ok: false, error: publicError(error, entry.id) };
    } finally {
      timeout?.clear();
    }
    const reason: unknown = lease.signal.reason;
    // Another replica runs it now (it was taken over, or handed back): what this one found out
    // is not the request's outcome.
    if (TroupeError.isInstance(reason) && reason.code === ErrorCode.LEASE_LOST) return;
    try {
      await lease.complete(outcome);
    } catch (error) {
      this.options.onError(error, `Recording the outcome of request ${entry.id} failed`);
      return;
    }
    this.options.onComplete?.(entry, outcome);
  }
}

/** How long a stopping replica waits for one request's hand-back before it cancels the request. */
const HAND_BACK_WAIT = 2000;

/** `handing` or `false` after HAND_BACK_WAIT ms, whichever is first; never rejects. */
function withinWait(handing: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), HAND_BACK_WAIT);
  });
  return Promise.race([handing.catch(() => false), waited]).finally(() => clearTimeout(timer));
}

/** Aborts with REQUEST_TIMEOUT after `left` ms (the request's `x-fal-request-timeout`) unless cleared. */
function timeoutSignal(
  entry: QueueEntry,
  left: number,
): { readonly signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(requestTimeoutError(entry)), left);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** Resolves after a short pause (100 ms), or at once when `signal` aborts: between failed takes. */
function pause(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
