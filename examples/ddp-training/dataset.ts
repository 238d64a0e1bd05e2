import { gaussian, seededRandom } from "./random.ts";

/** Points in the plane with a class each: `x` holds (x0, y0, x1, y1, …), `labels` 0 or 1. */
export interface Dataset {
  readonly x: Float64Array;
  readonly labels: Uint8Array;
  readonly size: number;
}

/**
 * Two interleaved spirals, `perClass` points each, the same for the same `seed`: class 0 winds
 * out from the centre, class 1 is the same spiral turned half a circle. Gaussian `noise` blurs
 * them.
 */
export function twoSpirals(options: {
  readonly perClass: number;
  readonly seed: number;
  readonly noise?: number;
  readonly turns?: number;
}): Dataset {
  const { perClass, seed, noise = 0.05, turns = 1.25 } = options;
  const random = seededRandom(seed);
  const size = 2 * perClass;
  const x = new Float64Array(2 * size);
  const labels = new Uint8Array(size);
  for (let i = 0; i < perClass; i++) {
    const t = (i + 0.5) / perClass; // 0..1 along the arm
    const radius = 0.1 + 0.9 * t;
    const angle = 2 * Math.PI * turns * t;
    for (let c = 0; c < 2; c++) {
      const k = 2 * i + c;
      const a = angle + c * Math.PI;
      x[2 * k] = radius * Math.cos(a) + noise * gaussian(random);
      x[2 * k + 1] = radius * Math.sin(a) + noise * gaussian(random);
      labels[k] = c;
    }
  }
  return { x, labels, size };
}
