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
