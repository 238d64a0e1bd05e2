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

type CallMessage = Extract<RunnerMessage, { t: "call" }>;

/** MessagePack's `bin 8` of no bytes, and the header of a `bin 32`. */
const EMPTY_BIN = [0xc4, 0x00] as const;
const BIN32 = 0xc6;
const BIN32_HEADER_BYTES = 5;
const NO_BYTES = new Uint8Array(0);

/**
 * A call's control frame, as {@link encodeFrame} makes it, with the payload's bytes copied once:
 * packed inside the message they would be copied into the packer's buffer and then into the
 * frame (a call's input can be an image of megabytes, and this is on the way to its first result).
 * The message is packed with an empty payload as its last field, whose two bytes then make way for
 * a `bin 32` header and the payload.
 */
export function encodeCallFrame(message: CallMessage): Uint8Array {
  const { payload, ...fields } = message;
  const head = packr.pack({ ...fields, payload: NO_BYTES });
  const cut = head.byteLength - EMPTY_BIN.length;
  if (head[cut] !== EMPTY_BIN[0] || head[cut + 1] !== EMPTY_BIN[1]) return encodeFrame(message);
  const bodyLength = cut + BIN32_HEADER_BYTES + payload.byteLength;
  const frame = new Uint8Array(HEADER_BYTES + bodyLength);
  writeUint32(frame, 0, bodyLength);
  frame.set(head.subarray(0, cut), HEADER_BYTES);
  frame[HEADER_BYTES + cut] = BIN32;
  writeUint32(frame, HEADER_BYTES + cut + 1, payload.byteLength);
  frame.set(payload, HEADER_BYTES + cut + BIN32_HEADER_BYTES);
  return frame;
}

/** Decodes a control frame's body (the frame without its length header). */
export function decodeControlBody(body: Uint8Array): unknown {
  return packr.unpack(body);
}
