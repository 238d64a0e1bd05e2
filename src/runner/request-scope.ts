import { AsyncLocalStorage } from "node:async_hooks";

/** A line a rank logged while a request ran: through `ctx.log`, `rankPrint` or its stdout/stderr. */
export interface RankLogLine {
  readonly rank: number;
  /** `debug`, `info`, `warn` or `error` for a rank's log; `stdout` or `stderr` for a printed line. */
  readonly level: string;
  readonly message: string;
}

/**
 * The server request a runner call is made for. The server runs each endpoint handler inside
 * one, so a `runner.invoke()` or `runner.stream()` made there without a `requestId` takes the
 * request's, and what the ranks log while that call runs reaches `log` (a queued request's logs).
 */
export interface RequestScope {
  readonly requestId: string;
  readonly log?: ((line: RankLogLine) => void) | undefined;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` (and everything it awaits) inside `scope`. */
export function withRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The scope the caller runs in, if any. */
export function currentRequestScope(): RequestScope | undefined {
  return scopes.getStore();
}
