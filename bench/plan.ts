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

/** The queue's section (bench/queue.ts). */
export const QUEUE_PLAN = {
  /** Every replica's lease time (ms): small, so that a killed replica's request moves soon. */
  leaseTime: 1000,
  /** Above the back-to-back count, so that a reader behind the worker loses nothing to the cap. */
  maxEvents: 200_000,
  /** Ranks of each replica's runner. */
  worldSize: 1,
  /** Requests timed one after another, in blocks alternating with the floor's, after warm-ups. */
  firstEvent: { count: 300, blocks: 3, warmUp: 40 },
  /** Results one request streams back-to-back, `repeats` runs. */
  burst: { count: 100_000, repeats: 3 },
  /** Requests submitted at once to 1, then 3 replicas, each sleeping `sleepMs`. */
  scale: { requests: 60, sleepMs: 200 },
  /** Replicas SIGKILLed mid-request; the request's own work each attempt. */
  kill: { repeats: 3, ownMs: 500 },
  /** Requests queued behind held runners, after `warmUp` more; submits in flight at once. */
  queued: { count: 10_000, warmUp: 1000, concurrency: 32 },
} as const;
