import { gaussian, seededRandom } from "./random.ts";

/**
 * A two-layer perceptron, 2 inputs → `hidden` tanh units → 2 classes (softmax), with every
 * parameter in one Float64Array, so that one `allReduce` carries a whole gradient. Layout:
 * `W1` (hidden × 2, row-major), `b1` (hidden), `W2` (2 × hidden), `b2` (2).
 */
export class Mlp {
  readonly size: number;
  private readonly activations: Float64Array;

  constructor(readonly hidden: number) {
    this.size = 5 * hidden + 2;
    this.activations = new Float64Array(hidden);
  }

  /** Fresh parameters, the same on every rank for the same `seed`. */
  init(seed: number): Float64Array {
    const random = seededRandom(seed);
    const h = this.hidden;
    const params = new Float64Array(this.size);
    // A wide first layer: the units have to cut the plane into many strips to follow a spiral.
    for (let i = 0; i < 2 * h; i++) params[i] = 2.5 * gaussian(random);
    for (let i = 2 * h; i < 3 * h; i++) params[i] = 2 * random() - 1;
    for (let i = 3 * h; i < 5 * h; i++) params[i] = gaussian(random) / Math.sqrt(h);
    return params;
  }

  /**
   * Adds the gradient of the summed cross-entropy of samples `indices[from..to)` to `grads` and
   * returns that summed loss and how many of them were classified right. Sums (not means), so
   * that the shards' sums add up to the whole batch's, whatever their sizes.
   */
  accumulate(
    params: Float64Array,
    x: Float64Array,
    labels: Uint8Array,
    indices: ArrayLike<number>,
    from: number,
    to: number,
    grads: Float64Array,
  ): { loss: number; correct: number } {
    const h = this.hidden;
    const a = this.activations;
    const b1 = 2 * h;
    const w2 = 3 * h;
    const b2 = 5 * h;
    let loss = 0;
    let correct = 0;
    for (let n = from; n < to; n++) {
      const k = indices[n] as number;
      const x0 = x[2 * k] as number;
      const x1 = x[2 * k + 1] as number;
      let z0 = params[b2] as number;
      let z1 = params[b2 + 1] as number;
      for (let j = 0; j < h; j++) {
        const aj = Math.tanh(
          (params[2 * j] as number) * x0 +
            (params[2 * j + 1] as number) * x1 +
            (params[b1 + j] as number),
        );
        a[j] = aj;
        z0 += (params[w2 + j] as number) * aj;
        z1 += (params[w2 + h + j] as number) * aj;
      }
      // softmax over two logits, computed stably
      const m = Math.max(z0, z1);
      const e0 = Math.exp(z0 - m);
      const e1 = Math.exp(z1 - m);
      const p1 = e1 / (e0 + e1);
      const label = labels[k] as number;
      loss += m + Math.log(e0 + e1) - (label === 1 ? z1 : z0);
      if ((p1 > 0.5 ? 1 : 0) === label) correct++;
      const d1 = p1 - label; // dLoss/dz1; dLoss/dz0 is -d1
      const d0 = -d1;
      grads[b2] = (grads[b2] as number) + d0;
      grads[b2 + 1] = (grads[b2 + 1] as number) + d1;
      for (let j = 0; j < h; j++) {
        const aj = a[j] as number;
        grads[w2 + j] = (grads[w2 + j] as number) + d0 * aj;
        grads[w2 + h + j] = (grads[w2 + h + j] as number) + d1 * aj;
        const dz =
          (d0 * (params[w2 + j] as number) + d1 * (params[w2 + h + j] as number)) * (1 - aj * aj);
        grads[2 * j] = (grads[2 * j] as number) + dz * x0;
        grads[2 * j + 1] = (grads[2 * j + 1] as number) + dz * x1;
        grads[b1 + j] = (grads[b1 + j] as number) + dz;
      }
    }
    return { loss, correct };
  }
}

/** The parameters split into the model's named tensors (copies). */
export function unflatten(
  hidden: number,
  params: Float64Array,
): { w1: Float64Array; b1: Float64Array; w2: Float64Array; b2: Float64Array } {
  const h = hidden;
  return {
    w1: params.slice(0, 2 * h),
    b1: params.slice(2 * h, 3 * h),
    w2: params.slice(3 * h, 5 * h),
    b2: params.slice(5 * h, 5 * h + 2),
  };
}
