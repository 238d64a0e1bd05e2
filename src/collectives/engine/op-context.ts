import { CollectiveTimeoutError } from "../errors.ts";
import { encodeShmPiece, Kind } from "../transport/header.ts";
import type { Peer } from "../transport/peer.ts";
import { SHM_SLOT_BYTES } from "../transport/shm-ring.ts";
import type { Communicator } from "./communicator.ts";
import { type Descriptor, describeCall } from "./descriptor.ts";
import type { GroupInfo } from "./group-info.ts";
import type { Receive } from "./inbound.ts";
import type { Sink } from "./sinks.ts";

/** Messages at least this large go through shared memory between ranks on one host. */
export const SHM_MIN_BYTES = 64 << 10;

/**
 * One running operation on one rank: its place in the sequence (epoch, seq), the messages it
 * waits for, its timer. `fail` settles every wait of the operation at once, so a timeout, an
 * abort or a dead peer never leaves a promise hanging.
 */
export class OpContext {
  readonly arrived = new Set<number>();
  readonly #waitingOn = new Map<Receive, number>();
  #error: Error | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly comm: Communicator,
    readonly group: GroupInfo,
    readonly desc: Descriptor,
    readonly epoch: number,
    readonly seq: number,
    readonly timeout: number,
  ) {
    this.#timer = setTimeout(() => this.#expire(), timeout);
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /** Receives one message from global rank `from` into `sink`. */
  recv(from: number, sink: Sink, tag = 0, kind: number = Kind.DATA): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const peer = this.comm.peer(from);
    const key = `${kind}:${this.group.id}:${this.epoch}:${this.seq}:${tag}`;
    return new Promise<void>((resolve, reject) => {
      const receive: Receive = {
        sink,
        cancelled: false,
        settle: (error) => {
          this.#waitingOn.delete(receive);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      this.#waitingOn.set(receive, from);
      peer.inbound(key, this.epoch).attach(receive);
      // A peer that is gone can still have left this message behind; anything else from it
      // will never come.
      if (!peer.alive && this.#waitingOn.has(receive)) {
        this.fail(this.comm.exitError(from, describeCall(this.desc)));
      }
    });
  }

  /** Sends `bytes` to global rank `to`; resolves when `bytes` may be reused. */
  async send(to: number, bytes: Uint8Array, dtype: number, tag = 0, kind: number = Kind.DATA) {
    if (this.#error !== undefined) throw this.#error;
    const peer = this.comm.peer(to);
    if (!peer.alive) {
      // A peer that finished its part and left needs no word of this rank's arrival.
      if (kind === Kind.ARRIVE) return;
      const error = this.comm.exitError(to, describeCall(this.desc));
      this.fail(error);
      throw error;
    }
    const header = {
      kind,
      dtype,
      group: this.group.id,
      epoch: this.epoch,
      seq: this.seq,
      tag,
      aux: 0,
      length: 0,
    };
    if (kind === Kind.DATA && peer.shm && bytes.byteLength >= SHM_MIN_BYTES) {
      await this.#sendShm(peer, header, bytes);
      return;
    }
    await peer.write(header, bytes);
  }

  async #sendShm(peer: Peer, header: Parameters<Peer["write"]>[0], bytes: Uint8Array) {
    const ring = this.comm.ringFor(peer);
    const total = bytes.byteLength;
    for (let offset = 0; offset < total; offset += SHM_SLOT_BYTES) {
      const length = Math.min(SHM_SLOT_BYTES, total - offset);
      const acquired = ring.acquire();
      const slot = typeof acquired === "number" ? acquired : await acquired;
      if (this.#error !== undefined) {
        ring.release(slot);
        throw this.#error;
      }
      ring.bytes.set(bytes.subarray(offset, offset + length), slot * SHM_SLOT_BYTES);
      peer.write(
        { ...header, kind: Kind.SHM_DATA, aux: slot },
        encodeShmPiece({ slot, offset, length, total }),
      );
    }
  }

  /** `true` while the operation waits for a message from global rank `rank`. */
  waitsOn(rank: number): boolean {
    for (const from of this.#waitingOn.values()) if (from === rank) return true;
    return false;
  }

  /** Fails the operation: every wait rejects with `error`, and sinks are written no more. */
  fail(error: Error): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    clearTimeout(this.#timer);
    for (const receive of [...this.#waitingOn.keys()]) {
      receive.cancelled = true;
      receive.settle(error);
    }
    for (const rank of this.group.ranks) {
      if (rank !== this.comm.rank) this.comm.peer(rank).ring?.cancel(error);
    }
  }

  finish(): void {
    clearTimeout(this.#timer);
  }

  #expire(): void {
    const me = this.comm.rank;
    const missing = this.group.ranks.filter((r) => r !== me && !this.arrived.has(r));
    const pending = [...new Set(this.#waitingOn.values())].filter((r) => !missing.includes(r));
    const call = describeCall(this.desc);
    const reason =
      missing.length > 0
        ? `${plural(missing)} did not call it`
        : `the data of ${plural(pending)} did not arrive`;
    this.comm.breakEpoch(
      new CollectiveTimeoutError(
        `${call} on ${this.group.name} timed out after ${this.timeout} ms on rank ${me}: ${reason}`,
        {
          rank: me,
          details: {
            missingRanks: missing,
            pendingRanks: pending,
            timeout: this.timeout,
            call,
            sequence: this.seq,
          },
        },
      ),
    );
  }
}

function plural(ranks: readonly number[]): string {
  return ranks.length === 1 ? `rank ${ranks[0]}` : `ranks ${ranks.join(", ")}`;
}
