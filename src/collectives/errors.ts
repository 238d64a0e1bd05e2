import { registerErrorClass, TroupeError, type TroupeErrorOptions } from "../errors.ts";

/** Stable codes of the failures a process group reports. Match on these, never on messages. */
export const DistErrorCode = {
  COLLECTIVE_TIMEOUT: "COLLECTIVE_TIMEOUT",
  COLLECTIVE_MISMATCH: "COLLECTIVE_MISMATCH",
  COLLECTIVE_ABORTED: "COLLECTIVE_ABORTED",
  PEER_EXITED: "PEER_EXITED",
  STORE_ERROR: "STORE_ERROR",
  RENDEZVOUS_FAILED: "RENDEZVOUS_FAILED",
  GROUP_DESTROYED: "GROUP_DESTROYED",
} as const;

export type DistErrorCode = (typeof DistErrorCode)[keyof typeof DistErrorCode];

/**
 * A collective did not complete within its timeout. `details.missingRanks` lists the ranks that
 * never called it; `details.pendingRanks` those that called it but whose data did not arrive.
 */
export class CollectiveTimeoutError extends TroupeError {
  override name = "CollectiveTimeoutError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.COLLECTIVE_TIMEOUT, message, options);
  }
}

/**
 * Ranks called different collectives at the same point, or the same one with different sizes,
 * dtypes, roots or reduce ops. `details` holds what this rank and the other rank called.
 */
export class CollectiveMismatchError extends TroupeError {
  override name = "CollectiveMismatchError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.COLLECTIVE_MISMATCH, message, options);
  }
}

/** The collective was cancelled: by `abort()`, by its signal, or by another rank's abort. */
export class CollectiveAbortedError extends TroupeError {
  override name = "CollectiveAbortedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.COLLECTIVE_ABORTED, message, options);
  }
}

/** A rank of the group exited or left it; `rank` names it. */
export class PeerExitedError extends TroupeError {
  override name = "PeerExitedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.PEER_EXITED, message, options);
  }
}

/** The rendezvous key-value store failed: unreachable, closed, or a request timed out. */
export class StoreError extends TroupeError {
  override name = "StoreError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.STORE_ERROR, message, options);
  }
}

/** The ranks could not connect to each other while creating the group. */
export class RendezvousError extends TroupeError {
  override name = "RendezvousError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.RENDEZVOUS_FAILED, message, options);
  }
}

/** The process group was destroyed; no operation can run on it any more. */
export class GroupDestroyedError extends TroupeError {
  override name = "GroupDestroyedError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(DistErrorCode.GROUP_DESTROYED, message, options);
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
