/**
 * fal's `x-fal-request-timeout`: how many seconds a caller gives a request. Past it, fal cancels
 * the request and answers 504 with `x-fal-request-timeout-type: user`, which fal's clients read
 * as a timeout the caller asked for (`ApiError.isUserTimeout`) and never retry.
 */
import { ErrorCode, type TroupeErrorOptions } from "../errors.ts";
import { BadRequestError, HttpError } from "./errors.ts";

/** fal's request timeout headers, lower case. */
export const FalTimeoutHeader = {
  /** On a request: the seconds it may take. */
  timeout: "x-fal-request-timeout",
  /** On a 504: `user`, the caller's own limit passed. */
  type: "x-fal-request-timeout-type",
} as const;

/** The longest delay Node's timers keep (a longer one would fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** 504: the request ran past the seconds its `x-fal-request-timeout` gave it, and was cancelled. */
export class RequestTimedOutError extends HttpError {
  override name = "RequestTimedOutError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(504, ErrorCode.REQUEST_TIMEOUT, message, options);
  }
}

/**
 * The milliseconds an `x-fal-request-timeout` header gives (seconds, fractions allowed), or
 * `undefined` without one; 400 BAD_REQUEST for a value that is not a positive number.
 */
export function requestTimeoutOf(
  header: string | readonly string[] | undefined,
): number | undefined {
  const value = typeof header === "string" ? header : header?.[0];
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new BadRequestError(
      `Expected ${FalTimeoutHeader.timeout} to be a positive number of seconds, got ${JSON.stringify(value.slice(0, 100))}`,
    );
  }
  return Math.min(Math.max(1, Math.round(seconds * 1000)), MAX_TIMER_MS);
}

/**
 * A signal that aborts with a {@link RequestTimedOutError} `ms` after now, unless `until` (the
 * request's own end) comes first, which clears the timer.
 */
export function requestDeadline(
  ms: number,
  until: { once(event: "close", f: () => void): unknown },
): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    const seconds = ms / 1000;
    controller.abort(
      new RequestTimedOutError(
        `The request ran past its ${FalTimeoutHeader.timeout} of ${seconds} s and was cancelled`,
      ),
    );
  }, ms);
  until.once("close", () => clearTimeout(timer));
  return controller.signal;
}
