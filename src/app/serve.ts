import { type Logger as PinoLogger, pino } from "pino";
import { InvalidArgumentError } from "../errors.ts";
import { withRunnerLogger } from "../runner/logger.ts";
import { show } from "../runner/options.ts";
import type { App, AppClass } from "./app.ts";
import { registerBuiltinRoutes } from "./builtin-routes.ts";
import { type EndpointDefinition, endpointsOf } from "./endpoint.ts";
import { registerEndpoints } from "./endpoint-routes.ts";
import { ShuttingDownError, UnavailableError } from "./errors.ts";
import { registerFalDirectRoutes } from "./fal-direct-routes.ts";
import { registerFalProxyRoute } from "./fal-hosts.ts";
import { createHttpServer, type HttpServer } from "./http-server.ts";
import { IdleConnections } from "./idle-connections.ts";
import { ServerMetrics } from "./metrics.ts";
import {
  defaultAppId,
  type ResolvedServeOptions,
  resolveServeOptions,
  type ServeOptions,
} from "./options.ts";
import { type QueueService, startQueue } from "./queue-service.ts";
import { runnersOf } from "./runners-of.ts";
import type { ServerContext } from "./server-context.ts";
import { SessionRegistry } from "./session-registry.ts";
import { registerRequestRoutes } from "./stream-routes.ts";

/**
 * A running server, from {@link serve}. By the time you hold one, the app's `setup()` has
 * finished and the probes say `ready`; the port was open before that (see {@link serve}).
 */
export interface ServerHandle extends AsyncDisposable {
  /** `http://host:port` (`https://` when serving `tls`), ready for `fetch`. */
  readonly url: string;
  /** The port it listens on (the one picked when `port` was 0). */
  readonly port: number;
  /** The app instance it serves. */
  readonly app: App;
  /**
   * Stops accepting requests, ends open streams with a SHUTTING_DOWN error event, waits for
   * the connections to close, then runs the app's `teardown()` (and stops any runner it left
   * running). Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** The paths troupe serves itself, which no endpoint may take. */
const BUILTIN_PATHS = new Set([
  "/health",
  "/health/live",
  "/health/ready",
  "/openapi.json",
  "/metrics",
]);

/**
 * Constructs `AppClass`, opens the port, runs the app's `setup()`, and resolves once `setup()`
 * has finished: the server is ready (docs/protocol.md).
 *
 * The port opens first, so that a platform's probes reach the server while `setup()` starts
 * the runners (which may load models for minutes): meanwhile `/health` and `/health/ready`
 * answer 503 `starting`, `/health/live` 200, and the app's endpoints 503 `UNAVAILABLE`.
 * `onListening` is told when the port is open. If `setup()` throws, the port is closed,
 * `teardown()` runs (and any runner left running is stopped) and `serve` rejects with
 * `setup()`'s error. A signal (`handleSignals`) while `setup()` runs closes the port at once and
 * runs `teardown()` once `setup()` has ended, never beside it.
 *
 * @example
 * ```ts
 * await using server = await serve(MyApp, { port: 0 });
 * const response = await fetch(`${server.url}/stream`, {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ prompt: "A sunset" }),
 * });
 * ```
 */
export async function serve(AppClass: AppClass, options: ServeOptions = {}): Promise<ServerHandle> {
  const resolved = resolveServeOptions(options);
  const onListening = checkOnListening(options.onListening);
  const logger = resolved.logger ?? pino({ name: "troupe" });
  // Runners the app makes without a logger of their own log where the server does.
  const app = withRunnerLogger(logger, () => new AppClass());
  const endpoints = checkEndpoints(endpointsOf(app));
  let setUp = false;
  let setupSettled: Promise<unknown> = Promise.resolve();
  const started = await listen(app, AppClass.name || "troupe app", endpoints, resolved, logger, {
    setUp: () => setUp,
    setupSettled: () => setupSettled,
  });
  const { handle, context, queue } = started;
  if (onListening === undefined) context.logger.info({ url: handle.url }, "listening");
  else onListening({ url: handle.url, port: handle.port });
  const setup = withRunnerLogger(logger, async () => app.setup());
  setupSettled = setup.catch(() => {});
  try {
    await setup;
  } catch (error) {
    await handle.close().catch((closeError: unknown) => {
      context.logger.error({ err: closeError }, "teardown() after a failed setup() failed");
    });
    throw error;
  }
  if (context.closing()) {
    // A signal (`handleSignals`) came while setup() ran: the server is closing, not ready.
    await handle.close();
    throw new ShuttingDownError("The server was closed before setup() finished");
  }
  setUp = true;
  // The queue takes requests only now: its runners exist once setup() has made them.
  queue.start();
  return handle;
}

function checkOnListening(value: unknown): ServeOptions["onListening"] {
  if (value === undefined || typeof value === "function") {
    return value as ServeOptions["onListening"];
  }
  throw new InvalidArgumentError(`Expected \`onListening\` to be a function, got ${show(value)}`);
}

function checkEndpoints(endpoints: readonly EndpointDefinition[]): readonly EndpointDefinition[] {
  const seen = new Set<string>();
  for (const e of endpoints) {
    if (seen.has(e.path)) throw new InvalidArgumentError(`Two endpoints share the path ${e.path}`);
    if (BUILTIN_PATHS.has(e.path)) {
      throw new InvalidArgumentError(`The path ${e.path} is served by troupe itself`);
    }
    seen.add(e.path);
  }
  return endpoints;
}

/** Where `setup()` is: whether it finished, and a promise that settles when it does. */
interface SetupProgress {
  readonly setUp: () => boolean;
  readonly setupSettled: () => Promise<unknown>;
}

async function listen(
  app: App,
  title: string,
  endpoints: readonly EndpointDefinition[],
  options: ResolvedServeOptions,
  logger: PinoLogger,
  progress: SetupProgress,
): Promise<{ handle: ServerHandle; context: ServerContext; queue: QueueService }> {
  let closing: Promise<void> | undefined;
  const runners = () => runnersOf(app);
  const context: ServerContext = {
    app,
    title,
    appId: options.appId ?? defaultAppId(title),
    endpoints,
    options,
    // A child of the server's logger, so that its level can be raised around listen() alone.
    logger: logger.child({}),
    metrics: new ServerMetrics(runners),
    sessions: new SessionRegistry(),
    inflight: new Map(),
    runners,
    streams: new WeakSet(),
    failures: new WeakMap(),
    principals: new WeakMap(),
    closing: () => closing !== undefined,
  };
  const server = createHttpServer(context);
  const connections = new IdleConnections(server.server);
  server.addHook("onRequest", refuseUntilSetUp(progress.setUp));
  registerEndpoints(server, context);
  registerRequestRoutes(server, context);
  const queue = await startQueue(server, context);
  registerBuiltinRoutes(server, context, progress.setUp, () => queue.health());
  registerFalDirectRoutes(server, context);
  registerFalProxyRoute(server);
  await listenQuietly(server, context, options);
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `${options.tls === undefined ? "http" : "https"}://${host}:${port}`;

  const shutdown = async (): Promise<void> => {
    const stopped = server.close();
    const error = new ShuttingDownError();
    const queueStopped = queue.stop(error);
    for (const session of context.sessions.active()) session.abandon(error);
    for (const controller of context.inflight.values()) controller.abort(error);
    connections.closeAll();
    await stopped;
    await queueStopped;
    context.sessions.clearTimers();
    // teardown() undoes what setup() did: never while setup() still runs (a signal during it).
    await progress.setupSettled();
    try {
      await app.teardown();
    } finally {
      // A teardown() that forgets its runners must not leave ranks behind.
      await Promise.all(
        runners()
          .filter(({ runner }) => runner.state !== "stopped")
          .map(({ runner }) => runner.stop()),
      );
    }
  };
  const close = (): Promise<void> => {
    closing ??= shutdown().finally(() => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    });
    return closing;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    context.logger.info({ signal }, "shutting down");
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        context.logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  if (options.handleSignals) {
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  }
  return { handle: { url, port, app, close, [Symbol.asyncDispose]: close }, context, queue };
}

/**
 * Opens the port without fastify's own "Server listening at" lines (one per interface when
 * bound to 0.0.0.0): serve() logs one line of its own, or leaves it to `onListening`.
 */
async function listenQuietly(
  server: HttpServer,
  context: ServerContext,
  options: ResolvedServeOptions,
): Promise<void> {
  const level = context.logger.level;
  context.logger.level = "silent";
  try {
    await server.listen({ port: options.port, host: options.host });
  } finally {
    context.logger.level = level;
  }
}

/**
 * An `onRequest` hook: while `setup()` runs, the app's routes (endpoints, resume, cancel)
 * answer 503 `UNAVAILABLE`; troupe's own GET routes (the probes, `/openapi.json`, `/metrics`,
 * the playground) and unknown paths (404/405) answer as usual.
 */
function refuseUntilSetUp(setUp: () => boolean) {
  return async (request: { method: string; routeOptions: { url?: string } }): Promise<void> => {
    if (setUp()) return;
    const route = request.routeOptions.url;
    if (route === undefined) return;
    const readOnly = request.method === "GET" || request.method === "HEAD";
    if (readOnly && (route === "/" || BUILTIN_PATHS.has(route))) return;
    throw new UnavailableError("The app is starting: its setup() has not finished");
  };
}
