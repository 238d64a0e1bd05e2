/**
 * The one MessagePack configuration both sides use, with the extensions that let an Image or a
 * Tensor keep its class across the boundary.
 */
import { addExtension, Packr } from "msgpackr";
import { Image, type ImageChannels } from "../encoding/image.ts";
import type { TensorDType } from "../encoding/npy.ts";
import { Tensor } from "../encoding/tensor.ts";

/**
 * troupe's MessagePack encoder and decoder. Records are off: every frame must decode on its own,
 * without structures shared between sides. Without records a Map arrives as a plain object, as in
 * JSON (`assertSendable` lets through only Maps whose keys are strings or numbers).
 */
export const packr = new Packr({ moreTypes: true, useRecords: false });

// Images and tensors: their bytes travel raw beside a small header, and the other side rebuilds them.
addExtension({
  Class: Image,
  type: 0x49,
  write: (image: Image) => [
    image.width,
    image.height,
    image.contentType ?? null,
    image.channels ?? 0,
    image.bytes,
  ],
  read: ([width, height, contentType, channels, bytes]: [
    number,
    number,
    string | null,
    number,
    Uint8Array,
  ]) =>
    Image.restore(
      width,
      height,
      contentType ?? undefined,
      channels === 0 ? undefined : (channels as ImageChannels),
      bytes,
    ),
});
addExtension({
  Class: Tensor,
  type: 0x54,
  write: (tensor: Tensor) => [tensor.dtype, tensor.shape, tensor.data],
  read: ([dtype, shape, data]: [TensorDType, number[], Tensor["data"]]) =>
    new Tensor(data, shape, dtype),
});
