import { ErrorCode, TroupeError, type TroupeErrorOptions } from "../errors.ts";

/** The queue's store cannot be reached: a new request cannot be recorded (503). */
export class QueueUnavailableError extends TroupeError {
  override name = "QueueUnavailableError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.QUEUE_UNAVAILABLE, message, options);
  }
}

/** A request's replica died on each of its allowed attempts; it is not run again. */
export class AttemptsExhaustedError extends TroupeError {
  override name = "AttemptsExhaustedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.ATTEMPTS_EXHAUSTED, message, options);
  }
}

/** Another replica took over a request this one ran: this one stops, and appends nothing more. */
export class LeaseLostError extends TroupeError {
  override name = "LeaseLostError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.LEASE_LOST, message, options);
  }
}
