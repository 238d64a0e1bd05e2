/** How much each figure measures: enough for stable percentiles, under a minute in all. */
export const PLAN = {
  /** Fresh runners started (and stopped) per start() row. */
  starts: 10,
  /** Sequential invokes after 200 warm-up calls. */
  invokes: 2000,
  /** Results rank 0 streams, one every `intervalMs`, in `blocks` blocks alternating with the floor's. */
  paced: { count: 1200, intervalMs: 5, blocks: 3 },
  /** Results rank 0 adds back-to-back, `repeats` times. */
  burst: { count: 100_000, repeats: 3 },
  cancels: 20,
} as const;

/** The OCR service's section (bench/ocr.ts). */
export const OCR_PLAN = {
  /** Lines of the page timed at world size 1 and 2. */
  lines: 40,
  /** Pairs of world size 1 and 2 runs of that page, in alternating order. */
  repeats: 4,
  /** Pages of the batch read on 2 ranks in one request, and their lines each. */
  batch: { pages: 10, lines: 22 },
} as const;
