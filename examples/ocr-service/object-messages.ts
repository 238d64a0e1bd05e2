/**
 * Values of any shape between ranks, on troupe's tensor collectives: what torch's
 * `scatter_object_list` and `send_object_list` do, pickling aside. troupe's process group has
 * `gatherObject`, `broadcastObject` and `allGatherObject`, but no object scatter or object
 * send, which this example needs (text boxes with their crops out, recognised lines back).
 */
import { Packr } from "msgpackr";
import type { ProcessGroup } from "../../src/collectives/process-group.ts";

/** Every frame decodes on its own: no record structures shared between ranks. */
const packr = new Packr({ useRecords: false, moreTypes: true });

/**
 * Hands `values[i]` of rank `src` to rank `i`; only `src` passes `values`, one per rank. One
 * `scatter` of byte slots as long as the largest value, each starting with its value's length
 * (the receivers learn the slot size from the scatter itself).
 */
export async function scatterObject<T>(
  dist: ProcessGroup,
  values: readonly T[] | undefined,
  options: { readonly src?: number } = {},
): Promise<T> {
  const src = options.src ?? 0;
  const packed = dist.globalRank === src ? values?.map((value) => packr.pack(value)) : undefined;
  const slot = 4 + Math.max(0, ...(packed ?? []).map((bytes) => bytes.length));
  const chunks = packed?.map((bytes) => {
    const chunk = new Uint8Array(slot);
    new DataView(chunk.buffer).setUint32(0, bytes.length);
    chunk.set(bytes, 4);
    return chunk;
  });
  const mine = await dist.scatter(chunks, { src });
  const length = new DataView(mine.buffer, mine.byteOffset, mine.byteLength).getUint32(0);
  return packr.unpack(mine.subarray(4, 4 + length)) as T;
}

/**
 * Sends one value to rank `dst`: its size, then its bytes. Both sends start at once, in order (the
 * k-th send to a rank meets its k-th recv), so the bytes follow the size without waiting for the
 * receiver to take it (a rank in a model run takes it only when the run ends), and values sent
 * one after another arrive in that order. Resolves once the receiver has both.
 */
export async function sendObject(dist: ProcessGroup, value: unknown, dst: number): Promise<void> {
  const bytes = packr.pack(value);
  await Promise.all([
    dist.send(Uint32Array.of(bytes.length), { dst }),
    dist.send(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { dst }),
  ]);
}

/**
 * Values sent with {@link sendObject} without waiting for each to be taken: `sent()` resolves once
 * every one was, or rejects with the first failure (one before then is not an unhandled
 * rejection).
 */
export class ObjectOutbox {
  readonly #dist: ProcessGroup;
  readonly #sends: Promise<void>[] = [];

  constructor(dist: ProcessGroup) {
    this.#dist = dist;
  }

  send(value: unknown, dst: number): void {
    const sent = sendObject(this.#dist, value, dst);
    sent.catch(() => {});
    this.#sends.push(sent);
  }

  async sent(): Promise<void> {
    await Promise.all(this.#sends);
  }
}

/** Receives the next value rank `src` sends with {@link sendObject}. */
export async function recvObject<T>(dist: ProcessGroup, src: number): Promise<T> {
  const size = new Uint32Array(1);
  await dist.recv(size, { src });
  const bytes = new Uint8Array(size[0] as number);
  await dist.recv(bytes, { src });
  return packr.unpack(bytes) as T;
}
