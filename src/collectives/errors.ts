import { ErrorCode, registerErrorClass, TroupeError, type TroupeErrorOptions } from "../errors.ts";

// Their codes are in the one list, `ErrorCode` (src/errors.ts).

/**
 * A collective did not complete within its timeout. `details.missingRanks` lists the ranks that
 * never called it; `details.pendingRanks` those that called it but whose data did not arrive.
 */
export class CollectiveTimeoutError extends TroupeError {
  override name = "CollectiveTimeoutError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.COLLECTIVE_TIMEOUT, message, options);
  }
}

/**
 * Ranks called different collectives at the same point, or the same one with different sizes,
 * dtypes, roots or reduce ops. `details` holds what this rank and the other rank called.
 */
export class CollectiveMismatchError extends TroupeError {
  override name = "CollectiveMismatchError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.COLLECTIVE_MISMATCH, message, options);
  }
}

/** The collective was cancelled: by `abort()`, by its signal, or by another rank's abort. */
export class CollectiveAbortedError extends TroupeError {
  override name = "CollectiveAbortedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.COLLECTIVE_ABORTED, message, options);
  }
}

/** A rank of the group exited or left it; `rank` names it. */
export class PeerExitedError extends TroupeError {
  override name = "PeerExitedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.PEER_EXITED, message, options);
  }
}

/** The rendezvous key-value store failed: unreachable, closed, or a request timed out. */
export class StoreError extends TroupeError {
  override name = "StoreError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.STORE_ERROR, message, options);
  }
}

/** The ranks could not connect to each other while creating the group. */
export class RendezvousError extends TroupeError {
  override name = "RendezvousError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.RENDEZVOUS_FAILED, message, options);
  }
}

/** The process group was destroyed; no operation can run on it any more. */
export class GroupDestroyedError extends TroupeError {
  override name = "GroupDestroyedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(ErrorCode.GROUP_DESTROYED, message, options);
  }
}

// Rebuilt as their own classes (with rank and details) when they cross from a rank to the runner.
for (const Ctor of [
  CollectiveTimeoutError,
  CollectiveMismatchError,
  CollectiveAbortedError,
  PeerExitedError,
  StoreError,
  RendezvousError,
  GroupDestroyedError,
]) {
  registerErrorClass(Ctor.name, Ctor);
}
