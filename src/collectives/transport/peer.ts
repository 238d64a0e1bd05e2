import type { Socket } from "node:net";
import { Inbound } from "../engine/inbound.ts";
import { FrameParser, type PayloadReceiver } from "./frame-parser.ts";
import { HEADER_SIZE, type Header, writeHeader } from "./header.ts";
import type { ShmRing } from "./shm-ring.ts";

/** Payloads up to this size are copied into the frame and written with one call. */
const INLINE_BYTES = 16 << 10;

/**
 * Another rank, seen from this one: the socket this rank writes to it on, the socket it reads
 * from it on, the messages received from it that no operation has taken yet, and the shared
 * memory the two use when they share a host.
 */
export class Peer {
  readonly mailbox = new Map<string, Inbound>();
  alive = true;
  /** `true` once the peer said goodbye: its sockets closing is then not a crash. */
  left = false;
  /** The ring this rank writes into for the peer. */
  ring: ShmRing | undefined;
  /** The peer's ring, mapped here, that it writes into for this rank. */
  ringIn: Uint8Array | undefined;
  readonly parser: FrameParser;
  /** The socket this rank reads the peer's frames from. */
  reader: Socket | undefined;

  constructor(
    readonly rank: number,
    readonly local: boolean,
    readonly shm: boolean,
    readonly writer: Socket,
    begin: (peer: Peer, header: Header) => PayloadReceiver,
  ) {
    this.parser = new FrameParser((header) => begin(this, header));
  }

  /** The mailbox entry for `key`, created on first use. */
  inbound(key: string, epoch: number): Inbound {
    let entry = this.mailbox.get(key);
    if (entry === undefined) {
      const created = new Inbound(epoch, () => {
        if (this.mailbox.get(key) === created) this.mailbox.delete(key);
      });
      entry = created;
      this.mailbox.set(key, entry);
    }
    return entry;
  }

  /**
   * Writes one frame. Small payloads are copied and the call returns at once; a large payload is
   * written from the caller's memory, so the returned promise says when it may be reused.
   */
  write(header: Header, payload?: Uint8Array): Promise<void> | undefined {
    if (!this.alive || this.writer.destroyed) return undefined;
    const length = payload?.byteLength ?? 0;
    header.length = length;
    if (payload === undefined || length <= INLINE_BYTES) {
      const frame = Buffer.allocUnsafe(HEADER_SIZE + length);
      writeHeader(frame, 0, header);
      if (payload !== undefined) frame.set(payload, HEADER_SIZE);
      this.writer.write(frame);
      return undefined;
    }
    const head = Buffer.allocUnsafe(HEADER_SIZE);
    writeHeader(head, 0, header);
    return new Promise<void>((resolve) => {
      this.writer.cork();
      this.writer.write(head);
      // A failed write surfaces as the socket closing, which fails the operation.
      this.writer.write(payload, () => resolve());
      this.writer.uncork();
    });
  }
}
