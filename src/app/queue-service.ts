import { Gauge } from "prom-client";
import { MemoryStore } from "../queue/memory-store.ts";
import type { Outcome, QueueEntry, QueueStore } from "../queue/queue-store.ts";
import { QueueWorker } from "../queue/queue-worker.ts";
import { RedisStore } from "../queue/redis-store.ts";
import { deliverWebhook } from "../queue/webhook.ts";
import { webhookSigner } from "../queue/webhook-signer.ts";
import type { QueueHealth } from "./health.ts";
import type { HttpServer } from "./http-server.ts";
import { queueExecution } from "./queue-execution.ts";
import { registerQueueRoutes } from "./queue-routes.ts";
import type { ServerContext } from "./server-context.ts";
import { registerWebhookRoutes } from "./webhook-routes.ts";

/** The queue of one server: its store, its routes, and the worker that runs what it holds. */
export interface QueueService {
  readonly appId: string;
  readonly store: QueueStore;
  health(): QueueHealth;
  /** Starts taking requests (once `setup()` has made the app's runners). */
  start(): void;
  /** Stops taking requests, cancels the running ones with `reason`, and closes the store. */
  stop(reason: Error): Promise<void>;
}

/**
 * The queue of the app served as `context.appId`: in this process, or shared through Redis with every
 * replica of the same app id (`redis`). Its routes are registered at once; it takes requests
 * once `start()` is called.
 */
export async function startQueue(
  server: HttpServer,
  context: ServerContext,
): Promise<QueueService> {
  const { appId } = context;
  const { queue: options } = context.options;
  const signer = await webhookSigner(context.options.webhookKey);
  registerWebhookRoutes(server, signer);
  // Webhooks still being tried stop with the server.
  const webhooks = new AbortController();
  // Every outcome recorded here, by the worker or by the store itself (a cancelled queued
  // request, one out of attempts), is POSTed to its request's webhook, if it has one.
  const onCompleted = (entry: QueueEntry, outcome: Outcome): void => {
    if (entry.webhookUrl === undefined) return;
    void deliverWebhook(entry, outcome, {
      ...context.options.webhooks,
      signer,
      signal: webhooks.signal,
      logger: context.logger,
    }).catch(() => {});
  };
  const { redis } = context.options;
  const store: QueueStore =
    redis === undefined
      ? new MemoryStore({ ...options, onCompleted })
      : new RedisStore({
          ...options,
          onCompleted,
          url: redis,
          appId,
          onError: (error, message) => context.logger.warn({ err: error }, message),
        });
  const kind = redis === undefined ? "memory" : "redis";
  if (redis !== undefined && signer.generated) {
    context.logger.warn(
      "Webhooks are signed with a key made at start: every replica publishes its own. Give them one key (webhookKey, TROUPE_WEBHOOK_KEY_FILE) so receivers can verify any replica's webhooks",
    );
  }
  registerQueueRoutes(server, context, { store, appId });
  const registers = [context.metrics.registry];
  new Gauge({
    name: "troupe_queue_waiting",
    help: "Queued requests waiting to run, over every replica of the app",
    registers,
    collect() {
      this.set(store.health().queued);
    },
  });
  new Gauge({
    name: "troupe_queue_store_connected",
    help: "1 while the queue's store (Redis) is reachable, 0 while it is not",
    registers,
    collect() {
      this.set(store.health().connected ? 1 : 0);
    },
  });
  let worker: QueueWorker | undefined;
  return {
    appId,
    store,
    health: () => ({ appId, store: kind, ...store.health() }),
    start() {
      worker ??= new QueueWorker(store, {
        concurrency: options.concurrency ?? Math.max(1, context.runners().length),
        execute: queueExecution(context),
        onError: (error, message) => context.logger.error({ err: error }, message),
        onComplete: onCompleted,
      });
      worker.start();
    },
    async stop(reason) {
      await worker?.stop(reason);
      webhooks.abort(reason);
      await store.close();
    },
  };
}
