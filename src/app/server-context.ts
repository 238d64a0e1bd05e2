import type { IncomingMessage } from "node:http";
import type { Logger as PinoLogger } from "pino";
import type { App } from "./app.ts";
import type { EndpointDefinition } from "./endpoint.ts";
import { UnavailableError } from "./errors.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ResolvedServeOptions } from "./options.ts";
import type { runnersOf } from "./runners-of.ts";
import type { SessionRegistry } from "./session-registry.ts";

/** What every part of one server shares. */
export interface ServerContext {
  readonly app: App;
  /** The app class's name: the OpenAPI title and the playground's. */
  readonly title: string;
  /** The app's id on fal's routes (`owner/alias`): `appId`, or the default for its class's name. */
  readonly appId: string;
  readonly endpoints: readonly EndpointDefinition[];
  readonly options: ResolvedServeOptions;
  readonly logger: PinoLogger;
  readonly metrics: ServerMetrics;
  /** The streaming requests, for resume, DELETE and shutdown. */
  readonly sessions: SessionRegistry;
  /** Non-streaming requests whose handler runs, by request id: DELETE and shutdown abort them. */
  readonly inflight: Map<string, AbortController>;
  readonly runners: () => ReturnType<typeof runnersOf>;
  /** Requests answered with an SSE stream: their sessions record them, not fastify's onResponse. */
  readonly streams: WeakSet<IncomingMessage>;
  /** What failed a request answered with an error body, for its log line and metrics. */
  readonly failures: WeakMap<IncomingMessage, unknown>;
  /**
   * Who sent each request that passed the auth check, when keys are set: a fingerprint of its
   * key (never the key), or `"verify"` for one let in by the app's own check. A stream's resume
   * and cancel must come from the one who started it.
   */
  readonly principals: WeakMap<IncomingMessage, string>;
  /** `true` once `close()` began. */
  readonly closing: () => boolean;
}

/** Throws 503 once the server shuts down. */
export function assertOpen(context: ServerContext): void {
  if (context.closing()) throw new UnavailableError("The server is shutting down");
}
