import { AsyncLocalStorage } from "node:async_hooks";

/** The logging interface troupe writes to: pino's, so a pino logger can be passed as is. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** The logger of the server whose app is being made or set up (see {@link withRunnerLogger}). */
const serverLogger = new AsyncLocalStorage<Logger>();

/**
 * Runs `fn` (and what it awaits) so that a runner made without a `logger` writes to `logger`:
 * `serve()` makes the app and runs its `setup()` inside it, so that the runners an app makes log
 * where the server logs, at its level and in its format (`troupe run --log-level`).
 */
export function withRunnerLogger<T>(logger: Logger, fn: () => T): T {
  return serverLogger.run(logger, fn);
}

/** The logger for a runner given `logger`: that one, else its server's, else none yet. */
export function runnerLogger(logger: Logger | undefined): Logger | undefined {
  return logger ?? serverLogger.getStore();
}

/**
 * pino, writing JSON lines to stderr at `TROUPE_LOG_LEVEL` (default "info"). Loaded on first use
 * so that rank processes, which import this package too, do not pay for it.
 */
export async function defaultLogger(): Promise<Logger> {
  const { pino } = await import("pino");
  const logger = pino(
    { name: "troupe", level: process.env.TROUPE_LOG_LEVEL ?? "info" },
    pino.destination(2),
  );
  return {
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
  };
}
