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
