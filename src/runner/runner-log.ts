import { serializeError } from "../errors.ts";
import type { LogLevel } from "../ipc/messages.ts";
import { defaultLogger, type Logger, runnerLogger } from "./logger.ts";
import type { RankLogLine } from "./request-scope.ts";

/**
 * Where the runner's parts write what happened: the log, and the failures `gatherErrors()`
 * returns. The runner makes one and hands it to its group and scheduler, so none of them calls
 * back into the runner to report a failure it only needs to record.
 */
export class RunnerLog {
  private logger: Logger | undefined;
  private failures: Error[] = [];
  /** Told every line a rank logs or prints while a request runs: that request's logs. */
  tap: ((line: RankLogLine) => void) | undefined;

  constructor(logger: Logger | undefined) {
    this.logger = runnerLogger(logger);
  }

  /** Loads the default logger (pino) when none was given; before that nothing is written. */
  async open(): Promise<void> {
    this.logger ??= await defaultLogger();
  }

  /** Records a failure for `gatherErrors()` and logs it at level error. */
  failure(error: Error, fields: object = { err: serializeError(error) }, message = error.message) {
    this.failures.push(error);
    this.logger?.error(fields, message);
  }

  /** A line a rank logged through its `ctx.log`. */
  rank(rank: number, level: LogLevel, message: string): void {
    this.logger?.[level]({ rank }, message);
    this.tap?.({ rank, level, message });
  }

  /** A line a rank printed on its stdout or stderr (already passed on to the runner's own). */
  output(rank: number, stream: "stdout" | "stderr", message: string): void {
    this.tap?.({ rank, level: stream, message });
  }

  info(fields: object, message: string): void {
    this.logger?.info(fields, message);
  }

  warn(fields: object, message: string): void {
    this.logger?.warn(fields, message);
  }

  /** The failures recorded since the last call; clears them. */
  gather(): Error[] {
    const failures = this.failures;
    this.failures = [];
    return failures;
  }
}
