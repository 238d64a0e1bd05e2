import type { Logger as PinoLogger } from "pino";
import { InvalidArgumentError } from "../errors.ts";
import type { QueueOptions } from "../queue/queue-store.ts";
import { type WebhookRetryOptions, webhookRetryOptions } from "../queue/webhook.ts";
import type { WebhookKeyOption } from "../queue/webhook-signer.ts";
import { show } from "../runner/options.ts";
import { type CorsOption, checkCors } from "./cors.ts";
import { type HeartbeatTimers, realTimers } from "./sse-connection.ts";

/** Options of {@link serve}. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one (read it from the handle). @default 8000 */
  readonly port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  readonly host?: string;
  /** Largest accepted JSON body in bytes; larger ones get 413. @default 1048576 */
  readonly bodyLimit?: number;
  /** Milliseconds between `: ping` comments on an idle stream; 0 turns them off. @default 15000 */
  readonly heartbeatInterval?: number;
  /** Events kept per dialect-2 request for clients that resume. @default 1024 */
  readonly replayLimit?: number;
  /** How long a dialect-2 request waits for its client to resume, and stays resumable after it ends. @default 30000 */
  readonly resumeWindow?: number;
  /** The reconnect delay sent to dialect-2 clients as `retry:`. @default 1000 */
  readonly retry?: number;
  /** The pino logger for requests and failures. @default pino at "info" on stdout */
  readonly logger?: PinoLogger;
  /**
   * On SIGTERM or SIGINT: stop accepting, end open streams with a SHUTTING_DOWN error event,
   * run `teardown()`, then exit the process with code 0 (1 if shutting down failed).
   * @default false
   */
  readonly handleSignals?: boolean;
  /**
   * Cross-origin access for browser pages on other origins: `false` none (a page elsewhere can
   * neither start a request nor read one), `{ origin }` the ones named, `true` any origin without
   * credentials (logged as a warning at start).
   * @default false
   */
  readonly cors?: CorsOption;
  /**
   * The `Host` names (with or without a port, compared without it and in any case) requests may
   * carry besides the loopback names, against DNS rebinding; `true` answers any. By default a
   * server bound to a loopback address answers only loopback names (`localhost`, `*.localhost`,
   * `127.x.x.x`, `[::1]`; a request without `Host` neither), and any host otherwise. Others get
   * 403 `HOST_NOT_ALLOWED` (docs/security.md).
   */
  readonly allowedHosts?: readonly string[] | true;
  /**
   * API keys (`Authorization: Key <key>` as fal's clients send it, or `Bearer <key>`), or your
   * own check. When set, every route but the health probes answers 401 `UNAUTHORIZED` without a
   * valid key (`GET /` answers the playground's page without the app's title, which then asks
   * for the key). Unset, `TROUPE_API_KEYS` (comma-separated) is read; unset too, no key is
   * needed (docs/security.md).
   */
  readonly auth?: AuthOption;
  /**
   * Milliseconds a request's headers and body may take to arrive; slower ones get 408
   * `RECEIVE_TIMEOUT` and the connection is closed. A response may stream for as long as it
   * needs. @default 30000
   */
  readonly requestTimeout?: number;
  /**
   * How deep a JSON body may nest objects and arrays, the body's own object or array being the
   * first level; deeper is 400 `BODY_TOO_DEEP` naming the limit, checked on the text before it
   * is parsed. @default 64
   */
  readonly maxBodyDepth?: number;
  /**
   * Milliseconds a streaming client may read nothing while events wait for it; then its request
   * is cancelled on every rank with `SLOW_READER`, freeing the runner. 0 turns it off. @default 30000
   */
  readonly slowReaderTimeout?: number;
  /**
   * The app's id on fal's queue routes (`owner/alias`, as fal's clients name an app): `POST
   * /{appId}` submits, `/{appId}/requests/{id}/...` reads. @default `local/<app class name in kebab case>`
   */
  readonly appId?: string;
  /**
   * Serve HTTPS with this certificate and key (PEM text or bytes), as fal's Python client needs:
   * it only speaks `https://`.
   */
  readonly tls?: TlsOption;
  /**
   * A Redis URL (`redis://host:6379`) to share one queue with every replica of the same app id;
   * unset, `TROUPE_REDIS_URL` is read; unset too, the queue lives in this process.
   */
  readonly redis?: string;
  /** How the queue runs requests (docs/queue.md). */
  readonly queue?: QueueOptions;
  /**
   * The Ed25519 private key (PEM) queued requests' webhooks are signed with; every replica of an
   * app needs the same one. Unset, the file `TROUPE_WEBHOOK_KEY_FILE` names is read; unset too, a
   * key is made at start (fine for one process) (docs/webhooks.md).
   */
  readonly webhookKey?: WebhookKeyOption;
  /** How webhooks are retried. @default 10 attempts within 2 hours, as fal does */
  readonly webhooks?: WebhookRetryOptions;
  /** The timers heartbeats use (tests pass fakes). @default the global ones */
  readonly timers?: HeartbeatTimers;
  /**
   * Called once the port is open, while `setup()` still runs (the probes answer `starting`).
   * Without it, `serve()` logs one info line `listening` with the url instead.
   */
  readonly onListening?: (address: ServerAddress) => void;
}

/** A certificate and its private key, PEM. */
export interface TlsOption {
  readonly cert: string | Uint8Array;
  readonly key: string | Uint8Array;
}

/** Where a server listens, as {@link ServeOptions.onListening} is told. */
export interface ServerAddress {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
}

/** What an {@link AuthOption.verify} check is given: the request as it arrived. */
export interface AuthRequest {
  readonly method: string;
  readonly url: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** API keys, or a check of your own (JWTs and the like), or both: a request passes either. */
export interface AuthOption {
  /** The keys that are accepted, compared in constant time. */
  readonly keys?: readonly string[];
  /** Your own check; `true` lets the request in. It may return a promise. */
  readonly verify?: (request: AuthRequest) => boolean | Promise<boolean>;
}

export interface ResolvedServeOptions {
  readonly port: number;
  readonly host: string;
  readonly bodyLimit: number;
  readonly heartbeatInterval: number;
  readonly replayLimit: number;
  readonly resumeWindow: number;
  readonly retry: number;
  readonly logger: PinoLogger | undefined;
  readonly handleSignals: boolean;
  readonly cors: CorsOption;
  /** `undefined`: the default for the bound address (see {@link ServeOptions.allowedHosts}). */
  readonly allowedHosts: readonly string[] | true | undefined;
  /** `undefined`: no key is needed. */
  readonly auth: AuthOption | undefined;
  readonly requestTimeout: number;
  readonly maxBodyDepth: number;
  readonly slowReaderTimeout: number;
  /** `undefined`: the default for the app's class name, resolved when the app is known. */
  readonly appId: string | undefined;
  readonly tls: TlsOption | undefined;
  readonly redis: string | undefined;
  readonly queue: QueueOptions;
  readonly webhookKey: WebhookKeyOption | undefined;
  readonly webhooks: Required<WebhookRetryOptions>;
  readonly timers: HeartbeatTimers;
}

export function resolveServeOptions(options: ServeOptions): ResolvedServeOptions {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`Expected serve options to be an object, got ${show(options)}`);
  }
  const port = options.port ?? 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`Expected \`port\` to be an integer 0-65535, got ${show(port)}`);
  }
  return {
    port,
    host: options.host ?? "127.0.0.1",
    bodyLimit: positiveInteger("bodyLimit", options.bodyLimit ?? 1024 * 1024),
    heartbeatInterval: nonNegativeNumber("heartbeatInterval", options.heartbeatInterval ?? 15_000),
    replayLimit: positiveInteger("replayLimit", options.replayLimit ?? 1024),
    resumeWindow: nonNegativeNumber("resumeWindow", options.resumeWindow ?? 30_000),
    retry: nonNegativeNumber("retry", options.retry ?? 1000),
    logger: options.logger,
    handleSignals: options.handleSignals ?? false,
    cors: checkCors(options.cors ?? false),
    allowedHosts: checkAllowedHosts(options.allowedHosts),
    auth: checkAuth(options.auth ?? keysFromEnvironment()),
    requestTimeout: positiveInteger("requestTimeout", options.requestTimeout ?? 30_000),
    maxBodyDepth: positiveInteger("maxBodyDepth", options.maxBodyDepth ?? 64),
    slowReaderTimeout: nonNegativeNumber("slowReaderTimeout", options.slowReaderTimeout ?? 30_000),
    appId: options.appId === undefined ? undefined : checkAppId(options.appId),
    tls: checkTls(options.tls),
    redis: checkRedis(options.redis ?? nonEmpty(process.env.TROUPE_REDIS_URL)),
    queue: checkQueue(options.queue ?? {}),
    webhookKey: options.webhookKey,
    webhooks: webhookRetryOptions(options.webhooks),
    timers: options.timers ?? realTimers,
  };
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a positive integer, got ${show(value)}`,
    );
  }
  return value;
}

function nonNegativeNumber(name: string, value: unknown): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a non-negative number, got ${show(value)}`,
    );
  }
  return value;
}

function checkAllowedHosts(value: unknown): readonly string[] | true | undefined {
  if (value === undefined || value === true) return value;
  if (Array.isArray(value) && value.every((h) => typeof h === "string" && h.length > 0)) {
    return value.map((h: string) => h.toLowerCase());
  }
  throw new InvalidArgumentError(
    `Expected \`allowedHosts\` to be true or a list of host names, got ${show(value)}`,
  );
}

function checkAuth(value: unknown): AuthOption | undefined {
  if (value === undefined) return undefined;
  const v = value as { keys?: unknown; verify?: unknown } | null;
  const keysOk =
    v?.keys === undefined ||
    (Array.isArray(v.keys) && v.keys.every((k) => typeof k === "string" && k.length > 0));
  const verifyOk = v?.verify === undefined || typeof v.verify === "function";
  if (v === null || typeof v !== "object" || !keysOk || !verifyOk) {
    throw new InvalidArgumentError(
      `Expected \`auth\` to be { keys?: string[], verify?: (request) => boolean }, got ${show(value)}`,
    );
  }
  if ((v.keys as unknown[] | undefined)?.length === 0 && v.verify === undefined) {
    throw new InvalidArgumentError("Expected `auth` to hold at least one key or a verify function");
  }
  return value as AuthOption;
}

/** `TROUPE_API_KEYS`, comma-separated, as `auth`; `undefined` when it is unset or empty. */
function keysFromEnvironment(): AuthOption | undefined {
  const keys = (process.env.TROUPE_API_KEYS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  return keys.length > 0 ? { keys } : undefined;
}

/** fal's app ids: `owner/alias`, each part letters, digits, `-`, `_` or `.`. */
const APP_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** Checks an app id (`owner/alias`). */
export function checkAppId(value: unknown): string {
  if (typeof value !== "string" || !APP_ID.test(value)) {
    throw new InvalidArgumentError(
      `Expected \`appId\` to be "owner/alias" (letters, digits, "-", "_", "."), got ${show(value)}`,
    );
  }
  return value;
}

/** The default app id of an app class: `local/<its name in kebab case>` (`MyApp` -> `local/my-app`). */
export function defaultAppId(className: string): string {
  const kebab = className
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1-$2")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase();
  return `local/${kebab === "" ? "app" : kebab}`;
}

function checkTls(value: unknown): TlsOption | undefined {
  if (value === undefined) return undefined;
  const v = value as { cert?: unknown; key?: unknown } | null;
  const pem = (x: unknown) => (typeof x === "string" && x.length > 0) || x instanceof Uint8Array;
  if (v === null || typeof v !== "object" || !pem(v.cert) || !pem(v.key)) {
    throw new InvalidArgumentError(
      `Expected \`tls\` to be { cert, key } (PEM text or bytes), got ${show(value)}`,
    );
  }
  return value as TlsOption;
}

function checkRedis(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^rediss?:\/\/./.test(value)) {
    throw new InvalidArgumentError(
      `Expected \`redis\` to be a redis:// or rediss:// URL, got ${show(value)}`,
    );
  }
  return value;
}

function checkQueue(value: unknown): QueueOptions {
  if (value === null || typeof value !== "object") {
    throw new InvalidArgumentError(`Expected \`queue\` to be an object, got ${show(value)}`);
  }
  const q = value as Record<string, unknown>;
  for (const name of ["leaseTime", "maxAttempts", "retention", "maxEvents", "concurrency"]) {
    if (q[name] !== undefined) positiveInteger(`queue.${name}`, q[name]);
  }
  return value as QueueOptions;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
