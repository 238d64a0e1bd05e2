import { HEADER_SIZE, type Header, readHeader } from "./header.ts";

/** Receives the payload of one frame, in order, in pieces of any size. */
export interface PayloadReceiver {
  /** `bytes` is only valid during the call: the parser reuses its read buffer. */
  piece(offset: number, bytes: Uint8Array): void;
  end(): void;
}

/**
 * Splits the byte stream of a connection into frames. The caller decides per header where the
 * payload goes, so large payloads are copied once, from the read buffer to their destination.
 */
export class FrameParser {
  readonly #header = new Uint8Array(HEADER_SIZE);
  #headerFill = 0;
  #current: Header | undefined;
  #receiver: PayloadReceiver | undefined;
  #payloadFill = 0;
  readonly #begin: (header: Header) => PayloadReceiver;

  constructor(begin: (header: Header) => PayloadReceiver) {
    this.#begin = begin;
  }

  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.#current === undefined) {
        const take = Math.min(HEADER_SIZE - this.#headerFill, bytes.length - at);
        if (this.#headerFill === 0 && take === HEADER_SIZE) {
          this.#current = readHeader(bytes, at);
        } else {
          this.#header.set(bytes.subarray(at, at + take), this.#headerFill);
          this.#headerFill += take;
          if (this.#headerFill === HEADER_SIZE) this.#current = readHeader(this.#header, 0);
        }
        at += take;
        if (this.#current === undefined) return;
        this.#headerFill = 0;
        this.#payloadFill = 0;
        this.#receiver = this.#begin(this.#current);
        if (this.#current.length === 0) this.#finish();
        continue;
      }
      const take = Math.min(this.#current.length - this.#payloadFill, bytes.length - at);
      this.#receiver?.piece(this.#payloadFill, bytes.subarray(at, at + take));
      this.#payloadFill += take;
      at += take;
      if (this.#payloadFill === this.#current.length) this.#finish();
    }
  }

  #finish(): void {
    const receiver = this.#receiver;
    this.#current = undefined;
    this.#receiver = undefined;
    receiver?.end();
  }
}

/** A receiver that copies a small payload and hands it over whole. */
export function collect(total: number, done: (payload: Uint8Array) => void): PayloadReceiver {
  const payload = new Uint8Array(total);
  return {
    piece(offset, bytes) {
      payload.set(bytes, offset);
    },
    end() {
      done(payload);
    },
  };
}
