import type { Logger as PinoLogger } from "pino";
import { InvalidArgumentError } from "../errors.ts";
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
   * Cross-origin access for browser pages on other origins: `true` allows any origin (no
   * credentials), `{ origin }` the ones named, `false` none.
   * @default true
   */
  readonly cors?: CorsOption;
  /** The timers heartbeats use (tests pass fakes). @default the global ones */
  readonly timers?: HeartbeatTimers;
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
    cors: checkCors(options.cors ?? true),
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
