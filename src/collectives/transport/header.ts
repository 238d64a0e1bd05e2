/**
 * The frame header every message between ranks starts with: 32 bytes, little-endian.
 *
 * | offset | field                                        |
 * | 0      | u8 kind                                      |
 * | 1      | u8 dtype code (data) or 0                    |
 * | 2      | u16 reserved                                 |
 * | 4      | u32 group id                                 |
 * | 8      | u32 epoch                                    |
 * | 12     | u32 sequence number within group and epoch   |
 * | 16     | u32 tag (which message of the operation)     |
 * | 20     | u32 aux (shared-memory slot, …)              |
 * | 24     | u64 payload length (as two u32, low first)   |
 */
export const HEADER_SIZE = 32;

export const Kind = {
  /** A rank started a collective; payload is its descriptor. */
  ARRIVE: 1,
  /** Collective data carried in the socket stream. */
  DATA: 2,
  /** A piece of collective data placed in shared memory; payload is a {@link ShmPiece}. */
  SHM_DATA: 3,
  /** The receiver consumed shared-memory slot `aux`; the sender may reuse it. */
  SHM_CREDIT: 4,
  /** The sender created a shared-memory ring; payload is its UTF-8 name. `aux` is slots. */
  SHM_OPEN: 5,
  /** The sender aborted epoch `epoch`; payload is the UTF-8 reason. */
  ABORT: 6,
  /** Point-to-point data (send/recv); `seq` counts per pair and direction. */
  P2P: 7,
  /** Point-to-point receipt; payload is empty on success, else the UTF-8 mismatch. */
  P2P_ACK: 8,
  /** The sender is leaving the group on purpose (`destroy()`). */
  GOODBYE: 9,
  /** First frame on a new connection: `aux` is the sender's rank; payload is the group token. */
  HELLO: 10,
} as const;

export interface Header {
  kind: number;
  dtype: number;
  group: number;
  epoch: number;
  seq: number;
  tag: number;
  aux: number;
  length: number;
}

export function writeHeader(target: Uint8Array, offset: number, h: Header): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, HEADER_SIZE);
  view.setUint8(0, h.kind);
  view.setUint8(1, h.dtype);
  view.setUint16(2, 0, true);
  view.setUint32(4, h.group, true);
  view.setUint32(8, h.epoch, true);
  view.setUint32(12, h.seq, true);
  view.setUint32(16, h.tag, true);
  view.setUint32(20, h.aux, true);
  view.setUint32(24, h.length % 0x1_0000_0000, true);
  view.setUint32(28, Math.floor(h.length / 0x1_0000_0000), true);
}

export function readHeader(source: Uint8Array, offset: number): Header {
  const view = new DataView(source.buffer, source.byteOffset + offset, HEADER_SIZE);
  return {
    kind: view.getUint8(0),
    dtype: view.getUint8(1),
    group: view.getUint32(4, true),
    epoch: view.getUint32(8, true),
    seq: view.getUint32(12, true),
    tag: view.getUint32(16, true),
    aux: view.getUint32(20, true),
    length: view.getUint32(24, true) + view.getUint32(28, true) * 0x1_0000_0000,
  };
}

/** Where a piece of a message lies in the sender's shared-memory ring. 24 bytes. */
export interface ShmPiece {
  slot: number;
  /** Byte offset of the piece within the whole message. */
  offset: number;
  length: number;
  /** Bytes of the whole message. */
  total: number;
}

export function encodeShmPiece(piece: ShmPiece): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, piece.slot, true);
  view.setUint32(4, piece.length, true);
  view.setFloat64(8, piece.offset, true);
  view.setFloat64(16, piece.total, true);
  return bytes;
}

export function decodeShmPiece(bytes: Uint8Array): ShmPiece {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 24);
  return {
    slot: view.getUint32(0, true),
    length: view.getUint32(4, true),
    offset: view.getFloat64(8, true),
    total: view.getFloat64(16, true),
  };
}
