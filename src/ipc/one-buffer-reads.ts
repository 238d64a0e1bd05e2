/**
 * How both ends of a control channel read: with `onread` into one reused buffer, each read handed
 * straight to `onChunk`. No readable-stream machinery, no buffer allocated per read, no tick
 * between the read and the handler, and a large frame (a call's image, a burst of results) comes
 * in reads of up to 256 KiB rather than the stream's 64 KiB chunks.
 */
import type { OnReadOpts } from "node:net";

/** Size of the one buffer each end reads into. */
const READ_BUFFER_BYTES = 256 * 1024;

/** `onread` options that hand each read to `onChunk`, which must copy what it keeps. */
export function oneBufferReads(onChunk: (chunk: Uint8Array) => void): OnReadOpts {
  return {
    buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
    callback: (bytes, into) => {
      // A plain view: a Buffer's subarray runs its species constructor, on every read.
      onChunk(new Uint8Array(into.buffer, into.byteOffset, bytes));
      return true;
    },
  };
}
