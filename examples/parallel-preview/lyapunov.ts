/**
 * A Markus–Lyapunov fractal renderer, progressive like a diffusion model's sampler: each step adds
 * one more jittered sample per pixel with a longer orbit, so the picture starts blocky and noisy
 * and sharpens as the steps advance.
 *
 * Every pixel (a, b) iterates the logistic map x ← r·x·(1 − x), r taking the values a and b in
 * the order of a sequence such as "AAB", and is coloured by the orbit's Lyapunov exponent
 * λ = mean ln|r·(1 − 2x)|: gold where the map settles (λ < 0), dark where it is chaotic. Every
 * pixel runs the same number of iterations, so equal areas cost equal time, and a pixel's value
 * depends only on its own coordinates and the step: any split of the rows across ranks gives the
 * same bytes as one rank rendering them all.
 */

/** What to draw: the sequence, the window of (a, b) and the colours. */
export interface Scene {
  /** The sequence of A and B, e.g. "AABAB". */
  readonly sequence: string;
  /** The window of the (a, b) plane: a grows to the right, b grows upwards. */
  readonly a: readonly [number, number];
  readonly b: readonly [number, number];
  /** Cosine palette of the stable (λ < 0) region: colour(t) = offset + amp·cos(2π(freq·t + phase)). */
  readonly palette: Palette;
}

export interface Palette {
  readonly offset: readonly [number, number, number];
  readonly amp: readonly [number, number, number];
  readonly freq: readonly [number, number, number];
  readonly phase: readonly [number, number, number];
  /** RGB 0–1 of the chaotic (λ > 0) region where λ is small, fading to black. */
  readonly chaos: readonly [number, number, number];
}

/** A band of rows of an image `width` × `height`: rows `top` to `bottom` (exclusive). */
export interface Band {
  readonly width: number;
  readonly height: number;
  readonly top: number;
  readonly bottom: number;
}

/** Orbit lengths of `step`: longer orbits give a better estimate of λ, so later steps cost more. */
export function orbitOf(step: number): { warmup: number; iterations: number } {
  return { warmup: 16 + 2 * step, iterations: 32 + 6 * step };
}

/** Known beautiful windows; the seed picks one and perturbs it. */
const PRESETS: readonly { sequence: string; a: [number, number]; b: [number, number] }[] = [
  { sequence: "BBBBBBAAAAAA", a: [3.38, 3.98], b: [2.6, 3.6] }, // "Zircon Zity"
  { sequence: "AB", a: [2.0, 4.0], b: [2.0, 4.0] },
  { sequence: "AABAB", a: [3.3, 4.0], b: [2.9, 3.95] },
  { sequence: "ABBAB", a: [3.0, 4.0], b: [3.0, 4.0] },
  { sequence: "AAAAAABBBBBB", a: [3.2, 4.0], b: [3.3, 4.0] },
  { sequence: "AABB", a: [3.05, 3.95], b: [3.05, 3.95] },
];

/** Palettes named by words a prompt may contain; other prompts get one from their hash. */
const MOODS: readonly { words: RegExp; palette: Palette }[] = [
  {
    words: /sun|gold|fire|warm|autumn|desert/i,
    palette: palette([0.6, 0.4, 0.15], [0.4, 0.35, 0.2], [1, 1, 1], [0, 0.1, 0.2], [0.1, 0.2, 0.5]),
  },
  {
    words: /sea|ocean|ice|water|night|blue/i,
    palette: palette([0.3, 0.5, 0.7], [0.3, 0.3, 0.3], [1, 1, 1], [0.5, 0.6, 0.7], [0.5, 0.2, 0.3]),
  },
  {
    words: /forest|leaf|green|moss|jungle/i,
    palette: palette(
      [0.4, 0.6, 0.3],
      [0.35, 0.35, 0.25],
      [1, 1, 0.5],
      [0.2, 0.25, 0.6],
      [0.4, 0.3, 0.1],
    ),
  },
];

function palette(
  offset: [number, number, number],
  amp: [number, number, number],
  freq: [number, number, number],
  phase: [number, number, number],
  chaos: [number, number, number],
): Palette {
  return { offset, amp, freq, phase, chaos };
}

/** 32-bit FNV-1a of a string. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded generator of numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The scene of a prompt and a seed; the same pair always gives the same scene. */
export function sceneOf(prompt: string, seed: number): Scene {
  const next = random(hashString(prompt) ^ Math.imul(seed, 0x9e3779b1));
  const preset =
    PRESETS[Math.floor(next() * PRESETS.length)] ?? (PRESETS[0] as (typeof PRESETS)[0]);
  // Zoom into a random part of the preset's window, at 55–100 % of its size.
  const zoom = 0.55 + 0.45 * next();
  const window = (range: readonly [number, number]): [number, number] => {
    const span = (range[1] - range[0]) * zoom;
    const start = range[0] + (range[1] - range[0] - span) * next();
    return [start, start + span];
  };
  const mood = MOODS.find((m) => m.words.test(prompt))?.palette;
  const hue = next();
  const chosen =
    mood ??
    palette(
      [0.55, 0.5, 0.45],
      [0.45, 0.45, 0.4],
      [1, 1, 1],
      [hue, hue + 0.15 + 0.2 * next(), hue + 0.3 + 0.2 * next()],
      [0.15 + 0.3 * next(), 0.15 + 0.2 * next(), 0.35 + 0.3 * next()],
    );
  // Rotate the palette a little per seed, so variations of one prompt differ in colour too.
  const shift = 0.15 * next();
  return {
    sequence: preset.sequence,
    a: window(preset.a),
    b: window(preset.b),
    palette: {
      ...chosen,
      phase: [chosen.phase[0] + shift, chosen.phase[1] + shift, chosen.phase[2] + shift],
    },
  };
}

/** A per-pixel, per-step hash in [0, 1): the sample's sub-pixel jitter. */
function jitter(x: number, y: number, step: number, axis: number): number {
  let h =
    Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(step * 2 + axis, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/**
 * Adds sample `step` of every pixel in `band` to `sum` (RGB floats, the band's rows only, row
 * `band.top` first). After steps 0…k, `sum / (k + 1)` is the picture.
 */
export function addSample(sum: Float32Array, scene: Scene, band: Band, step: number): void {
  const { width, height, top, bottom } = band;
  const [a0, a1] = scene.a;
  const [b0, b1] = scene.b;
  const { warmup, iterations } = orbitOf(step);
  const seq = Array.from(scene.sequence, (ch) => ch === "A");
  const period = seq.length;
  const { offset, amp, freq, phase, chaos } = scene.palette;
  const tau = 2 * Math.PI;
  let i = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      const a = a0 + ((x + jitter(x, y, step, 0)) / width) * (a1 - a0);
      const b = b1 - ((y + jitter(x, y, step, 1)) / height) * (b1 - b0);
      let v = 0.5;
      let k = 0;
      for (let n = 0; n < warmup; n++) {
        const r = seq[k] ? a : b;
        k = k + 1 === period ? 0 : k + 1;
        v = r * v * (1 - v);
      }
      // Products of 8 derivatives between logarithms: one Math.log per 8 iterations.
      let lyapunov = 0;
      let product = 1;
      for (let n = 1; n <= iterations; n++) {
        const r = seq[k] ? a : b;
        k = k + 1 === period ? 0 : k + 1;
        v = r * v * (1 - v);
        const d = r * (1 - 2 * v);
        product *= d < 0 ? -d : d;
        if ((n & 7) === 0) {
          lyapunov += Math.log(product);
          product = 1;
        }
      }
      lyapunov = (lyapunov + Math.log(product)) / iterations;
      let red: number;
      let green: number;
      let blue: number;
      if (lyapunov < 0 || Number.isNaN(lyapunov)) {
        // Stable: along the palette by how strongly, brightest at the edge of chaos.
        // -∞ (a superstable orbit) and NaN are as stable as it gets.
        const t = lyapunov > Number.NEGATIVE_INFINITY ? 1 - Math.exp(lyapunov * 1.6) : 1;
        const shade = 1 - 0.55 * t;
        red = shade * (offset[0] + amp[0] * Math.cos(tau * (freq[0] * t + phase[0])));
        green = shade * (offset[1] + amp[1] * Math.cos(tau * (freq[1] * t + phase[1])));
        blue = shade * (offset[2] + amp[2] * Math.cos(tau * (freq[2] * t + phase[2])));
      } else {
        // Chaotic: a glow that fades to black as λ grows.
        const glow = Math.exp(-lyapunov * 6);
        red = chaos[0] * glow;
        green = chaos[1] * glow;
        blue = chaos[2] * glow;
      }
      sum[i] = (sum[i] as number) + 255 * clamp01(red);
      sum[i + 1] = (sum[i + 1] as number) + 255 * clamp01(green);
      sum[i + 2] = (sum[i + 2] as number) + 255 * clamp01(blue);
    }
  }
}

function clamp01(value: number): number {
  return Math.min(Math.max(value, 0), 1);
}

/** The 8-bit RGB picture of `sum` after `samples` samples (into `out` when given). */
export function toPixels(sum: Float32Array, samples: number, out?: Uint8Array): Uint8Array {
  const pixels = out ?? new Uint8Array(sum.length);
  const scale = 1 / samples;
  for (let i = 0; i < sum.length; i++) pixels[i] = Math.round((sum[i] as number) * scale);
  return pixels;
}

/** Rows `top` to `bottom` of an image `height` rows tall split into `parts` bands, `part`'s share. */
export function bandOf(
  height: number,
  parts: number,
  part: number,
): { top: number; bottom: number } {
  const rows = Math.ceil(height / parts);
  const top = Math.min(height, part * rows);
  return { top, bottom: Math.min(height, top + rows) };
}
