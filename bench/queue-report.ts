/**
 * The queue benchmarks' figures (bench/queue.ts measures them) and the rows and notes they make:
 * each row beside its floor where it has one, and for each target missed, what the figures say
 * of where the time went.
 */
import { cpus } from "node:os";
import { QUEUE_PLAN } from "./plan.ts";
import type { BurstRun } from "./queue-floors.ts";
import { formatMs, formatRate, median, percentile } from "./stats.ts";
import { QUEUE_TARGETS, type Row } from "./targets.ts";

/** The section's rows, and how they were taken. */
export interface QueueBench {
  readonly rows: Row[];
  readonly notes: string[];
}

export const QUEUE_PEER_LABEL = "floor, bare ioredis, measured in the same run";

export interface FirstEventFigures {
  /** Submit (the client's POST) to the first result at the client. */
  readonly first: Spread;
  /** Of which: the POST's answer, then the event stream's `started`. */
  readonly submitted: Spread;
  /** The event stream's response head at the client. */
  readonly opened: Spread;
  /** The rank's call() began (its stamp). */
  readonly called: Spread;
  readonly started: Spread;
  /** The worker's stamp of its result to the client's parse of it. */
  readonly emitToClient: Spread;
  readonly floor: Spread;
  /** Requests that ran on the replica the stream was read from, and on the other one. */
  readonly ranOnReader: number;
  readonly ranOnSubmitter: number;
}

export interface BurstFigures {
  readonly runs: readonly BurstRun[];
  readonly floor: readonly BurstRun[];
}

export interface ScaleFigures {
  readonly replicas: number;
  readonly wallMs: number;
  /** Requests each replica ran. */
  readonly perReplica: readonly number[];
}

export interface KillFigures {
  /** From the SIGKILL to the request's `done` at the client, per kill. */
  readonly killToDone: readonly number[];
  /** From the SIGKILL to the `retry` event at the client, and to the second attempt's call() on its rank. */
  readonly killToRetry: readonly number[];
  readonly killToCall: readonly number[];
  /** The `retry` events the client saw, per kill. */
  readonly retries: readonly number[];
  /** The same request undisturbed, submit to `done`: the request's own time. */
  readonly own: readonly number[];
  /** Redis's `hz`, and how late its timeout ended an idle `XREAD BLOCK`, per probe. */
  readonly hz: string;
  readonly blockLate: readonly number[];
}

export interface QueuedFigures {
  readonly count: number;
  readonly submitMs: number;
  readonly redisBefore: number;
  readonly redisAfter: number;
  /** Each replica's RSS before and after, in bytes. */
  readonly rss: readonly { readonly before: number; readonly after: number }[];
}

const MiB = 2 ** 20;
const n = (x: number) => x.toLocaleString("en-US");
const list = (samples: readonly number[]) => samples.map((ms) => formatMs(ms)).join(", ");

/** Everything the section measured. */
export interface QueueFigures {
  readonly first: FirstEventFigures;
  readonly burst: BurstFigures;
  readonly one: ScaleFigures;
  readonly three: ScaleFigures;
  readonly kills: KillFigures;
  readonly queued: QueuedFigures;
  /** The machine's load average (1, 5, 15 min) as the section began. */
  readonly loadAverage: readonly number[];
}

/** The section's rows and notes from its figures. */
export function queueReport(figures: QueueFigures): QueueBench {
  const rows = [
    firstEventRow(figures.first),
    burstRow(figures.burst),
    scaleRow(figures.one, figures.three),
    killRow(figures.kills),
    queuedRow(figures.queued),
  ];
  const [first, burst, scale, kill, queued] = rows.map((row) => row.pass !== false) as boolean[];
  const { worldSize, leaseTime, maxEvents } = QUEUE_PLAN;
  return {
    rows,
    notes: [
      `Queue on Redis: each replica is a process of its own (bench/queue-app.ts on the compiled build, one runner of ${worldSize} CPU rank${worldSize === 1 ? "" : "s"}, so one request at a time), and they share one redis-server (Debian's, TCP on 127.0.0.1, no persistence) with the bench's own ioredis connections. Every replica has leaseTime ${leaseTime} ms and maxEvents ${n(maxEvents)} (so that a reader behind the ${n(QUEUE_PLAN.burst.count)} back-to-back events loses none to the cap; the default is 10,000). The client is node:http with keep-alive and eventsource-parser, in the bench's process. Load average as the section began: ${figures.loadAverage.map((x) => x.toFixed(2)).join(" / ")} on ${cpus().length} cores.`,
      firstEventNote(figures.first, first as boolean),
      burstNote(figures.burst, burst as boolean),
      scaleNote(figures.one, figures.three, scale as boolean),
      killNote(figures.kills, kill as boolean),
      queuedNote(figures.queued, queued as boolean),
    ],
  };
}

function firstEventRow(first: FirstEventFigures): Row {
  const T = QUEUE_TARGETS;
  const over = first.first.p50 / first.floor.p50;
  return {
    figure: `submit → first event (a result the worker emits at once) at the client, submit on replica A, event stream from replica B (${first.first.n} requests one after another)`,
    troupe: `${formatMs(first.first.p50)} p50, ${formatMs(first.first.p95)} p95 (${over.toFixed(1)}× the floor's p50)`,
    peer: `XADD → blocked XREAD: ${formatMs(first.floor.p50)} p50, ${formatMs(first.floor.p95)} p95`,
    target: `≤ ${T.firstEventP50Ms} ms p50, ≤ ${T.firstEventOverFloor}× the floor`,
    pass: first.first.p50 <= T.firstEventP50Ms && over <= T.firstEventOverFloor,
  };
}

function firstEventNote(first: FirstEventFigures, pass: boolean): string {
  const { firstEvent } = QUEUE_PLAN;
  const ranFirst = first.called.p50 < first.opened.p50;
  return `Submit → first event: ${first.first.n} requests one after another after ${firstEvent.warmUp} warm-up ones, in ${firstEvent.blocks} blocks alternating with the floor's; each timed on the monotonic clock from the POST to the parse of its first result on B's event stream (opened once the POST answered), then read to its end; ${first.ranOnReader} ran on B, ${first.ranOnSubmitter} on A. Where it goes, p50 from the POST: its answer at ${formatMs(first.submitted.p50)} (HTTP and the SUBMIT script); B's event stream answered (its head) at ${formatMs(first.opened.p50)} (a second HTTP exchange; the route reads the request's record before it answers); \`started\` at ${formatMs(first.started.p50)} and the result at ${formatMs(first.first.p50)}, after the stream's first page (XRANGE; the store replays from the record the route read). The request itself ran at once: its rank's call() began at ${formatMs(first.called.p50)}${ranFirst ? ", before B's stream had even answered" : ""}, and the worker's result reached the client ${formatMs(first.emitToClient.p50)} after it stamped it. Floor: ${first.floor.n} XADDs on one ioredis connection, each 1 ms after another connection's \`XREAD BLOCK 0\` was sent, timed from the XADD to the XREAD's reply.${pass ? "" : ` Missed: what the client waits for is, in series, two HTTP exchanges (fal's API submits, then streams) and three Redis round trips (SUBMIT; the route's record read; XRANGE), against the floor's one round trip, so it cannot come within ${QUEUE_TARGETS.firstEventOverFloor}× the floor.`}`;
}

function burstRow(burst: BurstFigures): Row {
  const T = QUEUE_TARGETS;
  const rate = median(burst.runs.map((run) => run.perSecond));
  const floorRate = median(burst.floor.map((run) => run.perSecond));
  const lost = burst.runs.reduce((sum, run) => sum + run.lost + run.outOfOrder, 0);
  return {
    figure: `events through Redis to one client, back-to-back: one request streaming ${n(QUEUE_PLAN.burst.count)} results, run on A, read from B's event stream (median of ${burst.runs.length})`,
    troupe: `${formatRate(rate)} (${(rate / floorRate).toFixed(2)}× the floor); ${lost} lost or out of order`,
    peer: `pipelined XADDs → one XREAD loop: ${formatRate(floorRate)}`,
    target: `≥ ${formatRate(T.perSecond)}, none lost, ≥ ${T.perSecondOfFloor}× the floor`,
    pass: rate >= T.perSecond && lost === 0 && rate / floorRate >= T.perSecondOfFloor,
  };
}

function burstNote(burst: BurstFigures, pass: boolean): string {
  const count = QUEUE_PLAN.burst.count;
  const perEvent = median(burst.runs.map(cpuPerEvent));
  const floorPerEvent = median(burst.floor.map(cpuPerEvent));
  const budget = (cpus().length * 1e6) / QUEUE_TARGETS.perSecond;
  return `Back-to-back through Redis: runs ${burst.runs.map((run) => formatRate(run.perSecond)).join(", ")}, each timed from the submit to the client's \`done\`, after one warm-up of 20,000. B's runner was held by another request meanwhile, so each ran on A and its events crossed Redis to B. Each run was followed by the floor's (${burst.floor.map((run) => formatRate(run.perSecond)).join(", ")}): ${n(count)} XADDs of the same fields, one entry per event (troupe's replica packs each batch's events into a few entries: docs/queue.md), pipelined 512 at a time by ioredis in a process of its own (as a replica's appends are), read by one \`XREAD COUNT 512 BLOCK 0\` loop in the bench's process, from the go to the last entry read. CPU time over each run (ms): ${burst.runs.map(cpuLine).join("; ")}; the floor's: ${burst.floor.map(cpuLine).join("; ")}. That is ${perEvent.toFixed(1)} µs of CPU per event over every process through troupe (median run), ${floorPerEvent.toFixed(1)} µs for the floor.${pass ? "" : ` Missed: at ${formatRate(QUEUE_TARGETS.perSecond)} a machine of ${cpus().length} cores has ${budget.toFixed(0)} µs of CPU per event to share between all of these processes (and whatever else runs on it), and the two replicas alone spend ${median(burst.runs.map(replicaCpuPerEvent)).toFixed(1)} µs; over the median run these processes kept ${median(burst.runs.map(coresBusy)).toFixed(2)} of the ${cpus().length} cores busy.`}`;
}

function scaleRow(one: ScaleFigures, three: ScaleFigures): Row {
  const scaleUp = throughput(three) / throughput(one);
  return {
    figure: `replicas 1 vs 3: ${QUEUE_PLAN.scale.requests} requests of a worker that sleeps ${QUEUE_PLAN.scale.sleepMs} ms, submitted at once, until every event stream has ended`,
    troupe: `${scaleUp.toFixed(2)}× (${formatMs(one.wallMs)} → ${formatMs(three.wallMs)}; requests per replica ${three.perReplica.join(" / ")})`,
    target: `≥ ${QUEUE_TARGETS.scaleUp}×`,
    pass: scaleUp >= QUEUE_TARGETS.scaleUp,
  };
}

function scaleNote(one: ScaleFigures, three: ScaleFigures, pass: boolean): string {
  const { requests, sleepMs } = QUEUE_PLAN.scale;
  return `Replicas 1 vs 3: the ${requests} requests submitted round-robin over the replicas, each one's event stream read to \`done\` on the next replica (nothing polled); from the first submit to the last \`done\`. 1 replica ran them in ${formatMs(one.wallMs)} (${throughput(one).toFixed(1)} requests/s; ${formatMs(requests * sleepMs)} if nothing but the sleeps took time), 3 in ${formatMs(three.wallMs)} (${formatMs((requests / 3) * sleepMs)}).${pass ? "" : " Missed: the time beyond the sleeps is each request's way through the queue, once per request on a replica."}`;
}

function killRow(kills: KillFigures): Row {
  const { leaseTime } = QUEUE_PLAN;
  const own = median(kills.own);
  const bound = leaseTime + own;
  return {
    figure: `a replica SIGKILLed mid-request (once its first result is at the client; the worker then works ${QUEUE_PLAN.kill.ownMs} ms) → done on another, lease time ${leaseTime} ms (${kills.killToDone.length} kills)`,
    troupe: `${list(kills.killToDone)} from the kill to done; ${kills.retries.join(", ")} retry events`,
    target: `≤ lease + the request's own time (undisturbed, ${formatMs(own)} median) = ${formatMs(bound)}`,
    pass: Math.max(...kills.killToDone) <= bound && kills.retries.every((r) => r === 1),
  };
}

function killNote(kills: KillFigures, pass: boolean): string {
  const { leaseTime } = QUEUE_PLAN;
  const late = Math.max(...kills.killToRetry) - leaseTime;
  const rerun = kills.killToDone.map((ms, i) => ms - (kills.killToRetry[i] as number));
  const over = Math.max(...kills.killToDone) - (leaseTime + median(kills.own));
  const why =
    late > LATE_TAKEOVER_MS
      ? ` Missed: the takeover came up to ${formatMs(late)} after the lease time, as if the free replicas had waited for Redis's own timeout of their blocked read (its cron tick) rather than ending it themselves at the lease's end.`
      : ` Missed by ${formatMs(over)}: the takeovers came when the leases ran out, and from the \`retry\` to \`done\` took ${list(rerun)}; the bound leaves the takeover only the few ms between the lease's start and the kill.`;
  return `Replica killed: before each kill the same request ran undisturbed, submit to \`done\` (${list(kills.own)}: the request's own time). Then the client read the request's events from the first replica; when its one result arrived the replica named in it (the rank's parent) was SIGKILLed, and if that was the reader the client resumed on another with Last-Event-ID. From the kill: the \`retry\` event (the takeover) at the client after ${list(kills.killToRetry)}; the second attempt's call() began on its rank after ${list(kills.killToCall)}; \`done\` after ${list(kills.killToDone)}. The lease was taken a few ms before the kill (its first result had just reached the client), so it ran out just under ${formatMs(leaseTime)} after it (sooner only if a renewal, every leaseTime/3, fell in between). A free replica waits for a lease to run out in a blocked XREADGROUP; Redis ends blocked reads at their timeout only on its cron tick, ${kills.hz} times a second (\`hz\`: an idle \`XREAD BLOCK 250\` on this server returned ${list(kills.blockLate)} late), so the store ends that read itself when the lease runs out (CLIENT UNBLOCK). A fresh replica was started after each kill.${pass ? "" : why}`;
}

/** A takeover later than this after the lease time is put down to Redis's tick. */
const LATE_TAKEOVER_MS = 5;

function queuedRow(queued: QueuedFigures): Row {
  const growth = queued.rss.map((r) => r.after - r.before);
  const perRequest = (queued.redisAfter - queued.redisBefore) / queued.count;
  const bound = QUEUE_TARGETS.rssGrowthMiB;
  return {
    figure: `${n(queued.count)} queued requests (every replica's runner held): Redis used_memory, replica RSS (${queued.rss.length} replicas)`,
    troupe: `Redis ${(queued.redisBefore / MiB).toFixed(1)} → ${(queued.redisAfter / MiB).toFixed(1)} MiB (${n(Math.round(perRequest))} B a request); replica RSS ${queued.rss.map((r) => `${(r.before / MiB).toFixed(0)} → ${(r.after / MiB).toFixed(0)}`).join(", ")} MiB`,
    target: `report; replica RSS flat (each grows < ${bound} MiB, ${((bound * 1024) / queued.count).toFixed(1)} KiB a request)`,
    pass: growth.every((bytes) => bytes < bound * MiB),
  };
}

function queuedNote(queued: QueuedFigures, pass: boolean): string {
  const growth = queued.rss.map((r) => `${((r.after - r.before) / MiB).toFixed(1)} MiB`);
  return `Queued requests: ${n(queued.count)} submitted ${QUEUE_PLAN.queued.concurrency} at a time round-robin over ${queued.rss.length} replicas (${formatRate(queued.count / (queued.submitMs / 1000))} submits) after ${n(QUEUE_PLAN.queued.warmUp)} warm-up submits, while one \`hold\` request occupied each replica's runner; memory read right before and after (Redis's INFO used_memory; RSS from /proc, no forced GC, so the bound leaves room for the garbage of ${n(queued.count)} HTTP requests). RSS growth per replica: ${growth.join(", ")}.${pass ? "" : " Missed: a replica grew by more than the bound."}`;
}

function throughput(scale: ScaleFigures): number {
  return QUEUE_PLAN.scale.requests / (scale.wallMs / 1000);
}

/** How many cores a run's processes kept busy on average. */
function coresBusy(run: BurstRun): number {
  const cpu = Object.values(run.cpuMs ?? {}).reduce((sum, ms) => sum + ms, 0);
  return cpu / run.wallMs;
}

/** The replicas' CPU (A and B) per event of a run, in µs. */
function replicaCpuPerEvent(run: BurstRun): number {
  const cpu = run.cpuMs ?? {};
  return (((cpu.A ?? 0) + (cpu.B ?? 0)) * 1000) / QUEUE_PLAN.burst.count;
}

/** Where a back-to-back run's CPU went, by process, beside its wall time. */
function cpuLine(run: BurstRun): string {
  const cpu = run.cpuMs ?? {};
  const parts = Object.entries(cpu).map(([role, ms]) => `${role} ${ms.toFixed(0)}`);
  const total = Object.values(cpu).reduce((sum, ms) => sum + ms, 0);
  return `${parts.join(", ")} = ${total.toFixed(0)} ms of CPU in ${run.wallMs.toFixed(0)} ms`;
}

/** CPU time over every process of a run, per event, in µs. */
function cpuPerEvent(run: BurstRun): number {
  const cpu = run.cpuMs ?? {};
  return (Object.values(cpu).reduce((sum, ms) => sum + ms, 0) * 1000) / QUEUE_PLAN.burst.count;
}

/** p50 and p95 of a sample of durations (ms). */
export interface Spread {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
}

/** p50 and p95 of `samples`. */
export function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((x, y) => x - y);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
}
