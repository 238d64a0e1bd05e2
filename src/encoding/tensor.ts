import { InvalidArgumentError } from "../errors.ts";
import { DTYPES, encodeNpy, type TensorData, type TensorDType } from "./npy.ts";
import { PAYLOAD_BRAND } from "./payload-brand.ts";

/**
 * A tensor in a result: a TypedArray with a shape. In text events it becomes
 * `{ content_type: "application/x-npy", shape, dtype, url: "data:application/x-npy;base64,…" }`
 * (NumPy `.npy` bytes, so a Python client can `numpy.load` it); in object mode the consumer gets
 * a `Tensor` back, exact for every dtype.
 *
 * @example
 * this.addStreamingResult({ step, latents: new Tensor(latents, [4, 64, 64]) });
 */
export class Tensor<D extends TensorDType = TensorDType> {
  static readonly [PAYLOAD_BRAND] = true;
  readonly shape: readonly number[];

  constructor(
    readonly data: TensorData[D],
    shape?: readonly number[],
    /** Needed only for float16, whose bits travel in a Uint16Array. @default from `data` */
    readonly dtype: D = dtypeOf(data) as D,
  ) {
    const found = dtypeOf(data);
    if (found === undefined || (found !== dtype && !(dtype === "float16" && found === "uint16"))) {
      throw new InvalidArgumentError(
        `Expected \`data\` to be the TypedArray of dtype ${dtype}, got ${data?.constructor?.name ?? typeof data}`,
      );
    }
    this.shape = shape === undefined ? [data.length] : [...shape];
    const count = this.shape.reduce((a, b) => a * b, 1);
    if (!this.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== data.length) {
      throw new InvalidArgumentError(
        `Expected \`shape\` [${this.shape.join(", ")}] to hold the ${data.length} elements of \`data\``,
      );
    }
  }

  /** The `.npy` bytes of this tensor. */
  toNpy(): Uint8Array {
    return encodeNpy(this.data, this.shape, this.dtype);
  }

  /** fal-style JSON: what a text event carries. */
  toJSON(): { content_type: string; shape: number[]; dtype: string; url: string } {
    const npy = this.toNpy();
    return {
      content_type: "application/x-npy",
      shape: [...this.shape],
      dtype: this.dtype,
      url: `data:application/x-npy;base64,${Buffer.from(npy.buffer, npy.byteOffset, npy.byteLength).toString("base64")}`,
    };
  }
}

function dtypeOf(data: unknown): TensorDType | undefined {
  for (const [dtype, info] of Object.entries(DTYPES)) {
    if (dtype !== "float16" && data instanceof info.ctor) return dtype as TensorDType;
  }
  return undefined;
}
