import { InvalidArgumentError } from "../errors.ts";
import type { TypedArray } from "./dtype.ts";
import type { Communicator } from "./engine/communicator.ts";
import type { OperationOptions } from "./engine/group-info.ts";
import type { GroupHandle } from "./engine/run-collective.ts";
import { GroupDestroyedError } from "./errors.ts";
import { allGather } from "./ops/all-gather.ts";
import { allGatherObject } from "./ops/all-gather-object.ts";
import { type AllReduceOptions, allReduce } from "./ops/all-reduce.ts";
import { barrier } from "./ops/barrier.ts";
import { type BroadcastOptions, broadcast } from "./ops/broadcast.ts";
import { broadcastObject } from "./ops/broadcast-object.ts";
import { type GatherOptions, gather } from "./ops/gather.ts";
import { gatherObject } from "./ops/gather-object.ts";
import { type RecvOptions, recv } from "./ops/recv.ts";
import { type ReduceOptions, reduce } from "./ops/reduce.ts";
import { reduceScatter } from "./ops/reduce-scatter.ts";
import { type ScatterOptions, scatter } from "./ops/scatter.ts";
import { type SendOptions, send } from "./ops/send.ts";
import { subgroupInfo } from "./subgroup-info.ts";

/** How this rank reaches another: itself, shared memory, a Unix socket, or TCP. */
export type TransportKind = "self" | "shm" | "unix" | "tcp";

/** What a world group and its subgroups share; the world group owns it. */
export interface GroupResources {
  readonly comm: Communicator;
  readonly localRank: number;
  readonly groupCounts: Map<string, number>;
  /** Closes what the world group opened (the store, if this rank hosts it). */
  readonly close: () => Promise<void>;
}

/**
 * A group of ranks that run collectives together, like a torch.distributed process group. Create
 * the world group with `initProcessGroup()`, subgroups with `newGroup()`. `rank`, `src` and `dst`
 * are ranks within the group. Every operation is async, validates its arguments, takes
 * `{ timeout, signal }`, and fails with a typed error naming ranks rather than hang.
 */
export class ProcessGroup implements AsyncDisposable {
  /** This process's rank within the group. */
  readonly rank: number;
  /** Number of ranks in the group. */
  readonly size: number;
  /** Global ranks of the members; group rank `i` is global rank `ranks[i]`. */
  readonly ranks: readonly number[];
  readonly #handle: GroupHandle;
  readonly #resources: GroupResources;
  readonly #isWorld: boolean;
  #destroyed = false;

  /** @internal Use `initProcessGroup()` or `newGroup()`. */
  constructor(handle: GroupHandle, resources: GroupResources, isWorld: boolean) {
    this.#handle = handle;
    this.#resources = resources;
    this.#isWorld = isWorld;
    this.rank = handle.index;
    this.size = handle.info.ranks.length;
    this.ranks = handle.info.ranks;
  }

  /** This process's rank in the world group. */
  get globalRank(): number {
    return this.#resources.comm.rank;
  }
  /** Number of ranks in the world group. */
  get worldSize(): number {
    return this.#resources.comm.worldSize;
  }
  /** This process's rank among the ranks on its host (`LOCAL_RANK`). */
  get localRank(): number {
    return this.#resources.localRank;
  }
  /** The epoch operations are tagged with now (see {@link beginEpoch}). */
  get epoch(): number {
    return this.#resources.comm.epoch;
  }

  barrier(options?: OperationOptions): Promise<void> {
    return this.#run(() => barrier(this.#handle, options));
  }
  broadcast(tensor: TypedArray, options?: BroadcastOptions): Promise<void> {
    return this.#run(() => broadcast(this.#handle, tensor, options));
  }
  allReduce(tensor: TypedArray, options?: AllReduceOptions): Promise<void> {
    return this.#run(() => allReduce(this.#handle, tensor, options));
  }
  reduce(tensor: TypedArray, options?: ReduceOptions): Promise<void> {
    return this.#run(() => reduce(this.#handle, tensor, options));
  }
  gather<T extends TypedArray>(tensor: T, options?: GatherOptions): Promise<T[] | undefined> {
    return this.#run(() => gather(this.#handle, tensor, options));
  }
  allGather<T extends TypedArray>(tensor: T, options?: OperationOptions): Promise<T[]> {
    return this.#run(() => allGather(this.#handle, tensor, options));
  }
  scatter<T extends TypedArray>(
    chunks: readonly T[] | undefined,
    options?: ScatterOptions,
  ): Promise<T> {
    return this.#run(() => scatter(this.#handle, chunks, options));
  }
  reduceScatter(output: TypedArray, input: TypedArray, options?: AllReduceOptions): Promise<void> {
    return this.#run(() => reduceScatter(this.#handle, output, input, options));
  }
  send(tensor: TypedArray, options: SendOptions): Promise<void> {
    return this.#run(() => send(this.#handle, tensor, options));
  }
  recv(tensor: TypedArray, options: RecvOptions): Promise<void> {
    return this.#run(() => recv(this.#handle, tensor, options));
  }
  gatherObject<T>(value: T, options?: GatherOptions): Promise<T[] | undefined> {
    return this.#run(() => gatherObject(this.#handle, value, options));
  }
  allGatherObject<T>(value: T, options?: OperationOptions): Promise<T[]> {
    return this.#run(() => allGatherObject(this.#handle, value, options));
  }
  broadcastObject<T>(value: T, options?: BroadcastOptions): Promise<T> {
    return this.#run(() => broadcastObject(this.#handle, value, options));
  }

  /**
   * A group of some of the world's ranks, given as global ranks (sorted; group rank `i` is the
   * `i`-th smallest). Every member must create it, in the same order relative to its other
   * `newGroup` calls with the same ranks. Returns `undefined` on ranks that are not members.
   *
   * @example
   * const pair = group.newGroup([0, 2]);
   * if (pair) await pair.allReduce(x);
   */
  newGroup(ranks: readonly number[], options: { readonly timeout?: number } = {}) {
    const comm = this.#resources.comm;
    const info = subgroupInfo(ranks, comm.worldSize, this.#resources.groupCounts);
    const index = info.ranks.indexOf(comm.rank);
    if (index < 0) return undefined;
    const timeout = options.timeout ?? this.#handle.timeout;
    if (!(typeof timeout === "number" && timeout > 0)) {
      throw new InvalidArgumentError(
        `Expected \`timeout\` to be a positive number, got ${timeout}`,
      );
    }
    return new ProcessGroup({ comm, info, index, timeout }, this.#resources, false);
  }

  /**
   * Starts epoch `epoch` on this rank, for every group: every rank calls it with the same number,
   * greater than the last, before the first operation of a new unit of work (a request). Messages
   * of older epochs are dropped, and an abort or failure of the last epoch is forgotten.
   */
  beginEpoch(epoch: number): void {
    this.#resources.comm.beginEpoch(epoch);
  }

  /**
   * Aborts the current epoch: pending and later operations of every group reject with
   * `COLLECTIVE_ABORTED` on this rank, and on the others as soon as they hear of it.
   */
  abort(reason?: unknown): void {
    this.#resources.comm.abort(reason);
  }

  /** How this rank reaches group rank `rank`. */
  transportTo(rank: number): TransportKind {
    const global = this.ranks[rank];
    if (global === undefined) {
      throw new InvalidArgumentError(`Expected \`rank\` to be a rank of the group, got ${rank}`);
    }
    if (global === this.globalRank) return "self";
    const peer = this.#resources.comm.peer(global);
    return peer.shm ? "shm" : peer.local ? "unix" : "tcp";
  }

  /** Leaves the group. On the world group, closes every connection (and the store it hosts). */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (!this.#isWorld) return;
    this.#resources.comm.destroy(new GroupDestroyedError("The process group was destroyed"));
    await this.#resources.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#destroyed) throw new GroupDestroyedError(`${this.#handle.info.name} was destroyed`);
    return operation();
  }
}
