import { pino } from "pino";
import { InvalidArgumentError } from "../errors.ts";
import type { App, AppClass } from "./app.ts";
import { registerBuiltinRoutes } from "./builtin-routes.ts";
import { type EndpointDefinition, endpointsOf } from "./endpoint.ts";
import { registerEndpoints } from "./endpoint-routes.ts";
import { ShuttingDownError } from "./errors.ts";
import { createHttpServer } from "./http-server.ts";
import { IdleConnections } from "./idle-connections.ts";
import { ServerMetrics } from "./metrics.ts";
import { type ResolvedServeOptions, resolveServeOptions, type ServeOptions } from "./options.ts";
import { runnersOf } from "./runners-of.ts";
import type { ServerContext } from "./server-context.ts";
import { SessionRegistry } from "./session-registry.ts";
import { registerRequestRoutes } from "./stream-routes.ts";

/** A running server, from {@link serve}. */
export interface ServerHandle extends AsyncDisposable {
  /** `http://host:port`, ready for `fetch`. */
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

const BUILTIN_PATHS = new Set(["/health", "/openapi.json", "/metrics"]);

/**
 * Constructs `AppClass`, runs its `setup()`, then serves its endpoints over HTTP
 * (docs/protocol.md). If `setup()` throws, `teardown()` runs and `serve` rejects.
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
  const app = new AppClass();
  const endpoints = checkEndpoints(endpointsOf(app));
  try {
    await app.setup();
  } catch (error) {
    await app.teardown().catch(() => {});
    throw error;
  }
  try {
    return await listen(app, AppClass.name || "troupe app", endpoints, resolved);
  } catch (error) {
    await app.teardown().catch(() => {});
    throw error;
  }
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

async function listen(
  app: App,
  title: string,
  endpoints: readonly EndpointDefinition[],
  options: ResolvedServeOptions,
): Promise<ServerHandle> {
  let closing: Promise<void> | undefined;
  const runners = () => runnersOf(app);
  const context: ServerContext = {
    app,
    title,
    endpoints,
    options,
    logger: options.logger ?? pino({ name: "troupe" }),
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
  registerEndpoints(server, context);
  registerRequestRoutes(server, context);
  registerBuiltinRoutes(server, context);
  await server.listen({ port: options.port, host: options.host });
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;

  const shutdown = async (): Promise<void> => {
    const stopped = server.close();
    const error = new ShuttingDownError();
    for (const session of context.sessions.active()) session.abandon(error);
    for (const controller of context.inflight.values()) controller.abort(error);
    connections.closeAll();
    await stopped;
    context.sessions.clearTimers();
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
  context.logger.info({ url }, "listening");
  return { url, port, app, close, [Symbol.asyncDispose]: close };
}
