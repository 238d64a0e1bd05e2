/**
 * Any sendable value (a payload, a result, an output) as bytes of its own, and back. Results
 * travel in results frames as these bytes, untouched by the frame's encoder and decoder.
 */
import { packr } from "./packr.ts";
import { decodePlain, NOT_PLAIN } from "./plain-decode.ts";

/** Encodes any sendable value on its own. */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Decodes what {@link encodeValue} (or a results frame's item) holds. Plain data, nearly every
 * result, takes the short branch; the rest, and anything that branch is unsure of, msgpackr.
 */
export function decodeValue(bytes: Uint8Array): unknown {
  const plain = decodePlain(bytes);
  return plain === NOT_PLAIN ? packr.unpack(bytes) : plain;
}
