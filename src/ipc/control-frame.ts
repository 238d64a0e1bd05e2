/**
 * Every message but streamed results travels as a control frame: the length header, then the
 * message encoded with MessagePack.
 */
import { HEADER_BYTES, writeUint32 } from "./frame-header.ts";
import type { RankMessage, RunnerMessage } from "./messages.ts";
import { packr } from "./packr.ts";

/** A control frame holding `message`; the frame decoder reads it back. */
export function encodeFrame(message: RunnerMessage | RankMessage): Uint8Array {
  const body = packr.pack(message);
  const frame = new Uint8Array(HEADER_BYTES + body.byteLength);
  writeUint32(frame, 0, body.byteLength);
  frame.set(body, HEADER_BYTES);
  return frame;
}

/** Decodes a control frame's body (the frame without its length header). */
export function decodeControlBody(body: Uint8Array): unknown {
  return packr.unpack(body);
}
