/**
 * The header every frame between the runner and a rank starts with: its body's length as a
 * 4-byte big-endian integer. Shared by the encoders of each kind of frame and by the decoder.
 */
import { ProtocolError } from "../errors.ts";

/** Largest frame either side accepts (a result is bounded by this too). */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/** Bytes of the length header before each frame's body. */
export const HEADER_BYTES = 4;

/** A big-endian uint32, read without a DataView (one per frame would cost an allocation). */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset] as number) * 0x1000000 +
    (((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number))
  );
}

/** Writes `value` as a big-endian uint32 at `offset`. */
export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** The body length a frame header at `offset` announces, checked against MAX_FRAME_BYTES. */
export function readFrameLength(bytes: Uint8Array, offset: number): number {
  const length = readUint32(bytes, offset);
  if (length > MAX_FRAME_BYTES) {
    throw new ProtocolError(`Frame of ${length} bytes exceeds the limit of ${MAX_FRAME_BYTES}`);
  }
  return length;
}
