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
 * Hands `values[i]` of rank `src` to rank `i`; only `src` passes `values`, one per rank. The
 * sizes go first (`broadcastObject`), then one `scatter` of byte slots as long as the largest.
 */
export async function scatterObject<T>(
  dist: ProcessGroup,
  values: readonly T[] | undefined,
  options: { readonly src?: number } = {},
): Promise<T> {
  const src = options.src ?? 0;
  const packed = dist.globalRank === src ? values?.map((value) => packr.pack(value)) : undefined;
  const sizes = await dist.broadcastObject(packed?.map((bytes) => bytes.length) ?? [], { src });
  const slot = Math.max(1, ...sizes);
  const chunks = packed?.map((bytes) => {
    const chunk = new Uint8Array(slot);
    chunk.set(bytes);
    return chunk;
  });
  const mine = await dist.scatter(chunks, { src });
  return packr.unpack(mine.subarray(0, sizes[dist.globalRank] ?? 0)) as T;
}

/** Sends one value to rank `dst`: its size, then its bytes. */
export async function sendObject(dist: ProcessGroup, value: unknown, dst: number): Promise<void> {
  const bytes = packr.pack(value);
  await dist.send(Uint32Array.of(bytes.length), { dst });
  await dist.send(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { dst });
}

/** Receives the next value rank `src` sends with {@link sendObject}. */
export async function recvObject<T>(dist: ProcessGroup, src: number): Promise<T> {
  const size = new Uint32Array(1);
  await dist.recv(size, { src });
  const bytes = new Uint8Array(size[0] as number);
  await dist.recv(bytes, { src });
  return packr.unpack(bytes) as T;
}
