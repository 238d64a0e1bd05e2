/**
 * The Redis store's connections: one for commands, which fails a command at once when Redis is
 * away (no offline queue: a request that cannot be recorded is refused, not held), one that
 * subscribes to the app's cancel channel, and a pool of connections for blocking reads (a
 * blocked XREAD or XREADGROUP holds its connection until it returns). ioredis reconnects each
 * with backoff; after the command connection is back, `onReady` runs (the store renews its
 * leases there) before `whenReady()` lets waiting writers go on.
 */
import { Redis } from "ioredis";
import { type Deferred, deferred } from "../internal/deferred.ts";
import { untilAborted } from "./until-aborted.ts";

export class RedisConnections {
  readonly main: Redis;
  readonly subscriber: Redis;
  private readonly idle: Redis[] = [];
  private readonly busy = new Set<Redis>();
  private ready = false;
  private closed = false;
  private waiting: Deferred<void> = deferred();
  /** Settles after the first connection attempt, whichever way it went. */
  readonly firstAttempt: Promise<void>;

  constructor(url: string, onReady: () => Promise<void>, onError: (error: unknown) => void) {
    this.main = new Redis(url, {
      // RESP2's reply shapes (ioredis 6 speaks RESP3 by default, where XREADGROUP answers a map).
      protocol: 2,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    this.subscriber = new Redis(url, { protocol: 2, maxRetriesPerRequest: 0 });
    // ioredis reports each failed reconnect as an error event; the store says so in health().
    this.subscriber.on("error", () => {});
    const first = deferred();
    this.firstAttempt = first.promise;
    this.main.on("error", () => first.resolve());
    this.main.on("close", () => {
      first.resolve();
      this.ready = false;
    });
    this.main.on("ready", () => {
      onReady().then(
        () => {
          if (this.main.status !== "ready" || this.closed) return;
          this.ready = true;
          first.resolve();
          const waiting = this.waiting;
          this.waiting = deferred();
          waiting.resolve();
        },
        (error: unknown) => {
          onError(error);
          first.resolve();
        },
      );
    });
  }

  /** `true` while commands can be sent (and the store caught up after a reconnect). */
  get connected(): boolean {
    // A socket Redis closed is unwritable before ioredis hears of the close.
    return this.ready && this.main.status === "ready" && this.main.stream.writable;
  }

  /** Resolves once connected; `false` if `signal` aborted or the store closed first. */
  async whenReady(signal?: AbortSignal): Promise<boolean> {
    while (!this.connected) {
      if (this.closed || signal?.aborted) return false;
      if (signal === undefined) await this.waiting.promise;
      else await untilAborted(this.waiting.promise, signal);
    }
    return !this.closed;
  }

  /** A connection for a blocking read, its own until `release` or `discard`. */
  async acquire(): Promise<Redis> {
    let redis = this.idle.pop();
    if (redis === undefined) {
      redis = this.main.duplicate({ enableOfflineQueue: true });
      redis.on("error", () => {});
    }
    this.busy.add(redis);
    return redis;
  }

  /** Returns a connection whose blocking read ended normally. */
  release(redis: Redis): void {
    this.busy.delete(redis);
    if (this.closed || redis.status !== "ready" || this.idle.length >= 16) redis.disconnect();
    else this.idle.push(redis);
  }

  /** Closes a connection (to end its blocking read: an aborted reader or taker). */
  discard(redis: Redis): void {
    this.busy.delete(redis);
    redis.disconnect();
  }

  close(): void {
    this.closed = true;
    this.waiting.resolve();
    for (const redis of [this.main, this.subscriber, ...this.idle.splice(0), ...this.busy]) {
      redis.disconnect();
    }
    this.busy.clear();
  }
}

/** `true` for a failure to reach Redis (as against an error reply from it). */
export function isConnectionError(error: unknown): boolean {
  return error instanceof Error && error.name !== "ReplyError";
}
