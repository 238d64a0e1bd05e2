/** Which ranks form a group. Group rank `i` is global rank `ranks[i]`. */
export interface GroupInfo {
  /** Wire id: 0 for the world, a hash of the member list for subgroups. */
  readonly id: number;
  /** For messages: "world" or "group [0, 2]". */
  readonly name: string;
  readonly ranks: readonly number[];
}

/** Options every operation takes. */
export interface OperationOptions {
  /**
   * Fails the operation with `COLLECTIVE_TIMEOUT` after this many milliseconds.
   * @default the group's `timeout`
   */
  readonly timeout?: number;
  /** Aborting it aborts this operation, and the current epoch on every rank. */
  readonly signal?: AbortSignal;
}
