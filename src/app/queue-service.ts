import { MemoryStore } from "../queue/memory-store.ts";
import type { QueueStore } from "../queue/queue-store.ts";
import { QueueWorker } from "../queue/queue-worker.ts";
import type { HttpServer } from "./http-server.ts";
import { queueExecution } from "./queue-execution.ts";
import { registerQueueRoutes } from "./queue-routes.ts";
import type { ServerContext } from "./server-context.ts";

/** The queue of one server: its store, its routes, and the worker that runs what it holds. */
export interface QueueService {
  readonly appId: string;
  readonly store: QueueStore;
  /** Starts taking requests (once `setup()` has made the app's runners). */
  start(): void;
  /** Stops taking requests, cancels the running ones with `reason`, and closes the store. */
  stop(reason: Error): Promise<void>;
}

/**
 * The queue of the app served as `appId`: in this process, or shared through Redis with every
 * replica of the same app id (`redis`). Its routes are registered at once; it takes requests
 * once `start()` is called.
 */
export function startQueue(
  server: HttpServer,
  context: ServerContext,
  appId: string,
): QueueService {
  const { queue: options } = context.options;
  const store: QueueStore = new MemoryStore(options);
  registerQueueRoutes(server, context, { store, appId });
  let worker: QueueWorker | undefined;
  return {
    appId,
    store,
    start() {
      worker ??= new QueueWorker(store, {
        concurrency: options.concurrency ?? Math.max(1, context.runners().length),
        execute: queueExecution(context),
        onError: (error, message) => context.logger.error({ err: error }, message),
      });
      worker.start();
    },
    async stop(reason) {
      await worker?.stop(reason);
      await store.close();
    },
  };
}
