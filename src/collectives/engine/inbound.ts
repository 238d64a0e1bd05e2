import type { PayloadReceiver } from "../transport/frame-parser.ts";
import type { Sink } from "./sinks.ts";

/** A posted receive: where the message goes and how to tell its waiter. */
export interface Receive {
  readonly sink: Sink;
  /** Set when the operation failed: the sink (often user memory) must not be written again. */
  cancelled: boolean;
  settle(error?: Error): void;
}

interface HeldPiece {
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly release: () => void;
}

/**
 * One incoming message, matched by key with the receive that wants it. Either side may come
 * first: data that arrives before its receive is buffered (socket) or held in place (shared
 * memory, where it keeps its slot until consumed, which is the ring's back-pressure).
 */
export class Inbound {
  total = -1;
  dtype = 0;
  #received = 0;
  #buffer: Uint8Array | undefined;
  #ended = false;
  #held: HeldPiece[] = [];
  #receive: Receive | undefined;
  #refused = false;
  #done = false;

  constructor(
    readonly epoch: number,
    readonly onSettled: () => void,
  ) {}

  /** The payload of a socket frame; returns where its bytes go. */
  frame(total: number, dtype: number): PayloadReceiver {
    this.#begin(total, dtype);
    if (this.#receive !== undefined) {
      return {
        piece: (offset, bytes) => {
          if (this.#live()) this.#receive?.sink.piece(offset, bytes);
        },
        end: () => this.#complete(),
      };
    }
    const buffer = Buffer.allocUnsafeSlow(total);
    this.#buffer = buffer;
    return {
      piece: (offset, bytes) => buffer.set(bytes, offset),
      end: () => {
        this.#ended = true;
        if (this.#receive !== undefined) this.#deliverBuffer();
      },
    };
  }

  /** A piece of a shared-memory message; `release` hands its slot back to the sender. */
  shmPiece(total: number, dtype: number, offset: number, bytes: Uint8Array, release: () => void) {
    if (this.total < 0) this.#begin(total, dtype);
    if (this.#receive === undefined) {
      this.#held.push({ offset, bytes, release });
      return;
    }
    this.#consume(offset, bytes, release);
  }

  attach(receive: Receive): void {
    this.#receive = receive;
    if (this.total < 0) return;
    this.#start();
    if (this.#buffer !== undefined) {
      if (this.#ended) this.#deliverBuffer();
      return;
    }
    const held = this.#held;
    this.#held = [];
    for (const piece of held) this.#consume(piece.offset, piece.bytes, piece.release);
    if (this.total === 0) this.#complete();
  }

  /** Gives back held shared-memory slots; used when the message is dropped unread. */
  drop(): void {
    for (const piece of this.#held) piece.release();
    this.#held = [];
    this.#refused = true;
    this.#done = true;
  }

  #live(): boolean {
    return !this.#refused && this.#receive !== undefined && !this.#receive.cancelled;
  }

  #begin(total: number, dtype: number): void {
    this.total = total;
    this.dtype = dtype;
    if (this.#receive !== undefined) this.#start();
  }

  #start(): void {
    if (!this.#live()) return;
    const error = this.#receive?.sink.start(this.total, this.dtype);
    if (error !== undefined) {
      this.#refused = true;
      this.#settle(error);
    }
  }

  #consume(offset: number, bytes: Uint8Array, release: () => void): void {
    if (this.#live()) this.#receive?.sink.piece(offset, bytes);
    release();
    this.#received += bytes.length;
    if (this.#received === this.total) this.#complete();
  }

  #deliverBuffer(): void {
    if (this.#live() && this.#buffer !== undefined) this.#receive?.sink.piece(0, this.#buffer);
    this.#buffer = undefined;
    this.#complete();
  }

  #complete(): void {
    if (this.#live()) this.#receive?.sink.end();
    this.#settle();
  }

  #settle(error?: Error): void {
    this.onSettled();
    if (this.#done) return;
    this.#done = true;
    this.#receive?.settle(error);
  }
}
