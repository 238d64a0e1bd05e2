import type { Server } from "node:net";
import { InvalidArgumentError } from "../../errors.ts";
import { CollectiveAbortedError, PeerExitedError } from "../errors.ts";
import type { NativeAddon } from "../native-addon.ts";
import { collect, type PayloadReceiver } from "../transport/frame-parser.ts";
import { decodeShmPiece, type Header, Kind } from "../transport/header.ts";
import type { Peer } from "../transport/peer.ts";
import { SHM_SLOT_BYTES, SHM_SLOTS, ShmRing } from "../transport/shm-ring.ts";
import { type Descriptor, describeCall } from "./descriptor.ts";
import type { GroupInfo, OperationOptions } from "./group-info.ts";
import { OpContext } from "./op-context.ts";

const ignore: PayloadReceiver = { piece() {}, end() {} };
const MAX_EPOCH = 0xffff_ffff;

/**
 * The connections of one rank to every other, shared by the world group and its subgroups, and
 * the state that makes a cancelled request harmless to the next one: the epoch every message is
 * tagged with, and whether it was aborted or broken by a failure.
 */
export class Communicator {
  readonly peers: Array<Peer | undefined> = [];
  readonly servers: Server[] = [];
  epoch = 0;
  /** Aborted epochs (the current one, or later ones another rank aborted first) and why. */
  readonly #aborted = new Map<number, CollectiveAbortedError>();
  #broken: Error | undefined;
  readonly #ops = new Set<OpContext>();
  #seqs = new Map<string, number>();
  #destroyed: Error | undefined;
  #ringCount = 0;

  constructor(
    readonly rank: number,
    readonly worldSize: number,
    readonly token: string,
    readonly addon: NativeAddon | undefined,
  ) {}

  peer(rank: number): Peer {
    const peer = this.peers[rank];
    if (peer === undefined) throw new Error(`No connection to rank ${rank}`);
    return peer;
  }

  /** Starts an operation, or throws why none may start now. */
  startOp(
    group: GroupInfo,
    desc: Descriptor,
    options: OperationOptions,
    fallback: number,
    seqKey = `c:${group.id}`,
  ) {
    if (this.#destroyed !== undefined) throw this.#destroyed;
    const timeout = options.timeout ?? fallback;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new InvalidArgumentError(
        `Expected \`timeout\` to be a positive number of milliseconds, got ${timeout}`,
      );
    }
    options.signal?.throwIfAborted();
    const aborted = this.#aborted.get(this.epoch);
    if (aborted !== undefined) throw this.#abortedError(desc, aborted);
    if (this.#broken !== undefined) throw this.#broken;
    const seq = this.#seqs.get(seqKey) ?? 0;
    this.#seqs.set(seqKey, seq + 1);
    const ctx = new OpContext(this, group, desc, this.epoch, seq, timeout);
    this.#ops.add(ctx);
    const signal = options.signal;
    const onAbort = () => this.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    return {
      ctx,
      done: () => {
        ctx.finish();
        this.#ops.delete(ctx);
        signal?.removeEventListener("abort", onAbort);
      },
    };
  }

  /** Fails every running operation with `error`, and the ones after it until the next epoch. */
  breakEpoch(error: Error): void {
    this.#broken ??= error;
    for (const op of this.#ops) op.fail(error);
  }

  /** Aborts the current epoch here and, by message, on every other rank. */
  abort(reason?: unknown): void {
    if (this.#destroyed !== undefined) return;
    const text = reason instanceof Error ? reason.message : String(reason ?? "aborted");
    this.#abortLocally(this.epoch, this.rank, text, reason);
    const payload = Buffer.from(text, "utf8");
    for (const peer of this.peers) {
      peer?.write(
        {
          kind: Kind.ABORT,
          dtype: 0,
          group: 0,
          epoch: this.epoch,
          seq: 0,
          tag: 0,
          aux: 0,
          length: 0,
        },
        payload,
      );
    }
  }

  /** Starts epoch `epoch`: older messages are dropped, and failures of the last one forgotten. */
  beginEpoch(epoch: number): void {
    if (this.#destroyed !== undefined) throw this.#destroyed;
    if (!Number.isInteger(epoch) || epoch <= this.epoch || epoch > MAX_EPOCH) {
      throw new InvalidArgumentError(
        `Expected \`epoch\` to be an integer greater than the current epoch ${this.epoch} and at most ${MAX_EPOCH}, got ${epoch}`,
      );
    }
    // Built only when an operation is left to fail: an error captures a stack, and an epoch
    // begins with every request.
    if (this.#ops.size > 0) {
      const stale = new CollectiveAbortedError(`Epoch ${this.epoch} ended: epoch ${epoch} began`, {
        rank: this.rank,
      });
      for (const op of this.#ops) op.fail(stale);
    }
    this.epoch = epoch;
    this.#broken = undefined;
    this.#seqs = new Map();
    for (const old of this.#aborted.keys()) if (old < epoch) this.#aborted.delete(old);
    for (const peer of this.peers) {
      if (peer === undefined) continue;
      for (const [key, inbound] of peer.mailbox) {
        if (inbound.epoch < epoch) {
          peer.mailbox.delete(key);
          inbound.drop();
        }
      }
    }
  }

  /** Dispatches an incoming frame: the engine of the receive side. */
  begin(peer: Peer, h: Header): PayloadReceiver {
    switch (h.kind) {
      case Kind.ARRIVE:
      case Kind.DATA:
      case Kind.P2P:
      case Kind.P2P_ACK:
        if (h.epoch < this.epoch) return ignore;
        return peer
          .inbound(`${h.kind}:${h.group}:${h.epoch}:${h.seq}:${h.tag}`, h.epoch)
          .frame(h.length, h.dtype);
      case Kind.SHM_DATA:
        return collect(h.length, (payload) => this.#shmPiece(peer, h, payload));
      case Kind.SHM_CREDIT:
        peer.ring?.release(h.aux);
        return ignore;
      case Kind.SHM_OPEN:
        return collect(h.length, (payload) => this.#mapRing(peer, payload));
      case Kind.ABORT:
        return collect(h.length, (payload) => {
          const text = Buffer.from(payload).toString("utf8");
          if (h.epoch >= this.epoch) this.#abortLocally(h.epoch, peer.rank, text, undefined);
        });
      case Kind.GOODBYE:
        peer.left = true;
        return ignore;
      default:
        process.emitWarning(
          `troupe: rank ${this.rank} got an unknown frame kind ${h.kind} from rank ${peer.rank}`,
        );
        return ignore;
    }
  }

  /** A connection to `peer` closed: it exited or left. Its operations fail now. */
  peerClosed(peer: Peer): void {
    if (!peer.alive || this.#destroyed !== undefined) return;
    peer.alive = false;
    peer.writer.destroy();
    peer.reader?.destroy();
    const error = this.exitError(peer.rank);
    for (const op of this.#ops) {
      if (op.waitsOn(peer.rank)) op.fail(error);
    }
    peer.ring?.cancel(error);
  }

  /** The ring this rank writes into for `peer`, created and announced on first use. */
  ringFor(peer: Peer): ShmRing {
    if (peer.ring !== undefined) return peer.ring;
    const addon = this.addon as NativeAddon;
    const name = `/troupe-${this.token}-${this.rank}-${peer.rank}-${this.#ringCount++}`;
    const ring = new ShmRing(name, addon);
    peer.ring = ring;
    peer.write(
      {
        kind: Kind.SHM_OPEN,
        dtype: 0,
        group: 0,
        epoch: 0,
        seq: 0,
        tag: 0,
        aux: SHM_SLOTS,
        length: 0,
      },
      Buffer.from(name, "utf8"),
    );
    return ring;
  }

  destroy(error: Error): void {
    if (this.#destroyed !== undefined) return;
    for (const op of this.#ops) op.fail(error);
    this.#destroyed = error;
    for (const peer of this.peers) {
      if (peer === undefined) continue;
      peer.write({
        kind: Kind.GOODBYE,
        dtype: 0,
        group: 0,
        epoch: 0,
        seq: 0,
        tag: 0,
        aux: 0,
        length: 0,
      });
      peer.alive = false;
      // Half-close only: the peer must still read what this rank wrote before it sees the end.
      // Unref, so that a peer that never closes its side does not keep this process alive.
      peer.writer.end();
      peer.writer.unref();
      peer.reader?.unref();
      if (peer.ring?.safeToUnlink) {
        try {
          this.addon?.shmUnlink(peer.ring.name);
        } catch {
          // The receiver unlinks the name once it mapped it; it is usually gone already.
        }
      }
    }
    for (const server of this.servers) server.close();
  }

  get destroyed(): boolean {
    return this.#destroyed !== undefined;
  }

  #shmPiece(peer: Peer, h: Header, payload: Uint8Array): void {
    const piece = decodeShmPiece(payload);
    const release = () =>
      peer.write({
        kind: Kind.SHM_CREDIT,
        dtype: 0,
        group: 0,
        epoch: 0,
        seq: 0,
        tag: 0,
        aux: piece.slot,
        length: 0,
      });
    const ring = peer.ringIn;
    if (h.epoch < this.epoch || ring === undefined) {
      release();
      return;
    }
    const start = piece.slot * SHM_SLOT_BYTES;
    const bytes = ring.subarray(start, start + piece.length);
    const key = `${Kind.DATA}:${h.group}:${h.epoch}:${h.seq}:${h.tag}`;
    peer.inbound(key, h.epoch).shmPiece(piece.total, h.dtype, piece.offset, bytes, release);
  }

  #mapRing(peer: Peer, payload: Uint8Array): void {
    const name = Buffer.from(payload).toString("utf8");
    const addon = this.addon as NativeAddon;
    try {
      peer.ringIn = new Uint8Array(addon.shmOpen(name, SHM_SLOTS * SHM_SLOT_BYTES));
    } catch (error) {
      // The sender left and unlinked the name, which it does only when nothing it sent through
      // the segment is unread: no piece will refer to it.
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    addon.shmUnlink(name);
  }

  #abortLocally(epoch: number, by: number, text: string, reason: unknown): void {
    if (this.#aborted.has(epoch)) return;
    const error = new CollectiveAbortedError(
      by === this.rank ? `Aborted on rank ${this.rank}: ${text}` : `Aborted by rank ${by}: ${text}`,
      { rank: by, ...(reason === undefined ? {} : { cause: reason }), details: { epoch } },
    );
    this.#aborted.set(epoch, error);
    if (epoch !== this.epoch) return;
    for (const op of this.#ops) op.fail(error);
  }

  #abortedError(desc: Descriptor, cause: CollectiveAbortedError): Error {
    return new CollectiveAbortedError(
      `${describeCall(desc)} refused: epoch ${this.epoch} was aborted (${cause.message})`,
      { rank: cause.rank ?? this.rank, cause, details: { epoch: this.epoch } },
    );
  }

  /** The error for operations that need rank `rank` after it exited or left. */
  exitError(rank: number, call?: string): PeerExitedError {
    const peer = this.peers[rank];
    const how = peer?.left ? "left the group" : "exited";
    return new PeerExitedError(
      `Rank ${rank} ${how}${call === undefined ? "" : `; ${call} cannot complete`}`,
      { rank, details: { rank, left: peer?.left ?? false } },
    );
  }
}
