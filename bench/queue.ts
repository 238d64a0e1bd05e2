/**
 * Benchmarks of the queue on Redis (issue 12): replicas of one app, each a process of its own on
 * the compiled build, sharing one real redis-server. Submit → first event across two replicas,
 * events through Redis back-to-back, 1 vs 3 replicas, a replica SIGKILLed mid-request, and
 * 10,000 queued requests' memory; each beside its floor (bare ioredis) where it has one, measured
 * in the same run.
 *
 * `npx tsx bench/queue.ts` (after `npm run build`) prints the rows and notes; `benchQueue()`
 * returns them.
 */
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { buildWorkers } from "./build-workers.ts";
import { QUEUE_PLAN } from "./plan.ts";
import type { ReplicaOptions } from "./queue-app.ts";
import {
  cancel,
  closeClient,
  type Held,
  holdRunners,
  type Message,
  readEvents,
  submit,
  untilDone,
} from "./queue-client.ts";
import { type BurstRun, floorBurst, floorRoundTrips, startFloorWriter } from "./queue-floors.ts";
import {
  alive,
  cpuOf,
  exited,
  type Replica,
  rankOf,
  rssOf,
  since,
  startReplica,
  stopReplica,
} from "./queue-replicas.ts";
import {
  type BurstFigures,
  type FirstEventFigures,
  type KillFigures,
  QUEUE_PEER_LABEL,
  type QueueBench,
  type QueuedFigures,
  queueReport,
  type ScaleFigures,
  spread,
} from "./queue-report.ts";
import { BenchRedis } from "./redis-server.ts";
import { renderTable } from "./report.ts";
import { monotonicMs } from "./workers/clock.ts";
import type { QueueResult, QueueTask } from "./workers/queue-worker.ts";

/** The rows of the queue benchmarks. Needs `dist/` (npm run build) and Debian's redis-server. */
export async function benchQueue(): Promise<QueueBench> {
  const loadAverage = loadavg();
  await buildWorkers();
  const redis = await BenchRedis.start();
  const replicas: Replica[] = [];
  const clients: Redis[] = [];
  const client = (): Redis => {
    const connection = new Redis(redis.url, { protocol: 2 });
    clients.push(connection);
    return connection;
  };
  const options: ReplicaOptions = {
    redis: redis.url,
    leaseTime: QUEUE_PLAN.leaseTime,
    maxEvents: QUEUE_PLAN.maxEvents,
    worldSize: QUEUE_PLAN.worldSize,
  };
  const start = async () => {
    const replica = await startReplica(options);
    replicas.push(replica);
    return replica;
  };
  try {
    const a = await start();
    const one = await step("1 replica, sleeping requests", () => benchScale([a]));
    const b = await start();
    await step("warm-up", () => warmUp(a, b));
    const first = await step("submit → first event", () => benchFirstEvent(a, b, client));
    const burst = await step("back-to-back events", () => benchBurst(a, b, redis, client));
    await start();
    const three = await step("3 replicas, sleeping requests", () => benchScale(alive(replicas)));
    const kills = await step("replicas killed", () => benchKill(replicas, start, client()));
    const queued = await step("queued requests", () => benchQueued(alive(replicas), client()));
    return queueReport({ first, burst, one, three, kills, queued, loadAverage });
  } finally {
    for (const connection of clients) connection.disconnect();
    await Promise.all(replicas.map(stopReplica));
    await redis.stop();
    closeClient();
  }
}

async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  process.stderr.write(`bench queue: ${name}…\n`);
  return run();
}

/** JIT, pooled connections and keep-alive sockets on both replicas, both ways round. */
async function warmUp(a: Replica, b: Replica): Promise<void> {
  for (let i = 0; i < QUEUE_PLAN.firstEvent.warmUp; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    await untilDone(to, await submit(from, { op: "run", results: 10, ms: 0 }));
  }
  await untilDone(b, await submit(a, { op: "run", results: 20_000, ms: 0 }));
}

/**
 * Row 1, in blocks alternating with the floor's: submit on `a`, read the event stream on `b`,
 * timed to the first result (the worker emits it at once); then the stream is read to its end
 * before the next request.
 */
async function benchFirstEvent(
  a: Replica,
  b: Replica,
  client: () => Redis,
): Promise<FirstEventFigures> {
  const { count, blocks } = QUEUE_PLAN.firstEvent;
  const first: number[] = [];
  const submitted: number[] = [];
  const started: number[] = [];
  const opened: number[] = [];
  const called: number[] = [];
  const emitToClient: number[] = [];
  const floor: number[] = [];
  let ranOnReader = 0;
  let ranOnSubmitter = 0;
  const [writer, reader] = [client(), client()];
  for (let block = 0; block < blocks; block++) {
    for (let i = 0; i < count / blocks; i++) {
      const t0 = monotonicMs();
      const id = await submit(a, { op: "run", results: 1, ms: 0 });
      submitted.push(monotonicMs() - t0);
      await readEvents(
        b,
        id,
        (m) => {
          const now = monotonicMs();
          if (m.event === "started") started.push(now - t0);
          if (m.event === "result") {
            const result = JSON.parse(m.data) as QueueResult;
            first.push(now - t0);
            emitToClient.push(now - result.sent);
            called.push(result.calledAt - t0);
            if (result.replica === b.pid) ranOnReader++;
            else if (result.replica === a.pid) ranOnSubmitter++;
          }
          return undefined;
        },
        undefined,
        () => opened.push(monotonicMs() - t0),
      );
    }
    floor.push(...(await floorRoundTrips(writer, reader, count / blocks)));
  }
  return {
    first: spread(first),
    submitted: spread(submitted),
    opened: spread(opened),
    called: spread(called),
    started: spread(started),
    emitToClient: spread(emitToClient),
    floor: spread(floor),
    ranOnReader,
    ranOnSubmitter,
  };
}

/**
 * Row 2, each run alternating with the floor's: one request whose worker streams `count` results
 * back-to-back, submitted on `a` and read on `b`'s event stream, timed from the submit to its
 * `done` at the client; every result counted and its order checked.
 */
async function benchBurst(
  a: Replica,
  b: Replica,
  redis: BenchRedis,
  client: () => Redis,
): Promise<BurstFigures> {
  const { url } = redis;
  const redisPid = redis.pid as number;
  const { count, repeats } = QUEUE_PLAN.burst;
  const runs: BurstRun[] = [];
  const floor: BurstRun[] = [];
  const reader = client();
  const writer = startFloorWriter(url, count);
  // B's runner is held, so that the request runs on A and its events cross Redis to B.
  const holds = await holdRunners([a, b]);
  const onA = holds.find((hold) => hold.replica === a.pid) as Held;
  await cancel(a, onA.id);
  try {
    for (let run = 0; run < repeats; run++) {
      let received = 0;
      let next = 0;
      let outOfOrder = 0;
      let ranOn = 0;
      const processes = {
        A: a.pid,
        B: b.pid,
        "A's rank": rankOf(a),
        "B's rank": rankOf(b),
        Redis: redisPid,
      };
      const cpu0 = await cpuOf(processes);
      const t0 = performance.now();
      const id = await submit(a, { op: "run", results: count, ms: 0 });
      await readEvents(b, id, (m) => {
        if (m.event === "result") {
          const { i, replica } = JSON.parse(m.data) as QueueResult;
          if (i !== next) outOfOrder++;
          next = i + 1;
          received++;
          ranOn = replica;
        }
        return undefined;
      });
      const wallMs = performance.now() - t0;
      const cpuMs = since(cpu0, await cpuOf(processes));
      if (ranOn !== a.pid)
        throw new Error("The back-to-back request ran on the replica reading it");
      runs.push({
        perSecond: received / (wallMs / 1000),
        lost: count - received,
        outOfOrder,
        wallMs,
        cpuMs,
      });
      floor.push(await floorBurst(writer, reader, count, redisPid));
    }
  } finally {
    await writer.stop();
    await Promise.all(holds.filter((hold) => hold !== onA).map((hold) => cancel(a, hold.id)));
  }
  return { runs, floor };
}

/**
 * Row 3's half: `requests` requests of a worker that sleeps, submitted at once round-robin over
 * `replicas`, each request's event stream read to its end on the next replica; from the first
 * submit to the last `done`.
 */
async function benchScale(replicas: readonly Replica[]): Promise<ScaleFigures> {
  const { requests, sleepMs } = QUEUE_PLAN.scale;
  const ran = new Map<number, number>();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: requests }, async (_, i) => {
      const on = replicas[i % replicas.length] as Replica;
      const id = await submit(on, { op: "run", results: 0, ms: sleepMs });
      const done = await untilDone(replicas[(i + 1) % replicas.length] as Replica, id);
      const { replica } = JSON.parse(done.data) as { replica: number };
      ran.set(replica, (ran.get(replica) ?? 0) + 1);
    }),
  );
  const wallMs = performance.now() - t0;
  return { replicas: replicas.length, wallMs, perReplica: [...ran.values()] };
}

/**
 * Row 4: a request whose worker streams one result, then works `ownMs`; once its first result
 * is at the client, the replica running it is SIGKILLed; timed to its `done` (read on, or
 * resumed with Last-Event-ID on, a replica that lives). Before each kill the same request runs
 * undisturbed (its own time); a replica is started in the victim's place after each.
 */
async function benchKill(
  replicas: Replica[],
  start: () => Promise<Replica>,
  redis: Redis,
): Promise<KillFigures> {
  const { repeats, ownMs } = QUEUE_PLAN.kill;
  const task: QueueTask = { op: "run", results: 1, ms: ownMs };
  const figures = {
    killToDone: [] as number[],
    killToRetry: [] as number[],
    killToCall: [] as number[],
    retries: [] as number[],
    own: [] as number[],
    ...(await blockingTimeouts(redis)),
  };
  for (let repeat = 0; repeat < repeats; repeat++) {
    const live = alive(replicas);
    const reader = live[0] as Replica;
    const t0 = monotonicMs();
    await untilDone(reader, await submit(reader, task));
    figures.own.push(monotonicMs() - t0);
    const id = await submit(reader, task);
    let killedAt = Number.NaN;
    let victim: Replica | undefined;
    let retries = 0;
    let retryAt = Number.NaN;
    let calledAt = Number.NaN;
    let doneAt = Number.NaN;
    let last: string | undefined;
    const onEvent = (m: Message): boolean | undefined => {
      const now = monotonicMs();
      if (m.id !== undefined) last = m.id;
      if (m.event === "result") {
        const result = JSON.parse(m.data) as QueueResult;
        if (victim === undefined) {
          victim = live.find((r) => r.pid === result.replica);
          if (victim === undefined) throw new Error(`No replica has pid ${result.replica}`);
          killedAt = monotonicMs();
          victim.child.kill("SIGKILL");
        } else {
          calledAt = result.calledAt;
        }
      }
      if (m.event === "retry") {
        retries++;
        retryAt = now;
      }
      if (m.event === "done") doneAt = now;
      return undefined;
    };
    try {
      await readEvents(reader, id, onEvent);
    } catch {
      // The reader was the victim: resume on a replica that lives, none lost or repeated.
    }
    if (Number.isNaN(doneAt)) {
      const other = alive(replicas).find((r) => r !== victim) as Replica;
      await readEvents(other, id, onEvent, last);
    }
    if (victim !== undefined) await exited(victim);
    figures.killToDone.push(doneAt - killedAt);
    figures.killToRetry.push(retryAt - killedAt);
    figures.killToCall.push(calledAt - killedAt);
    figures.retries.push(retries);
    await start();
  }
  return figures;
}

/**
 * How late Redis ends a blocked read at its timeout: it times blocked clients out on its cron
 * tick (`hz` times a second), and a free replica's wait for a lease to run out is such a read.
 */
async function blockingTimeouts(redis: Redis): Promise<{ hz: string; blockLate: number[] }> {
  const [, hz = "?"] = (await redis.config("GET", "hz")) as string[];
  const blockLate: number[] = [];
  for (let probe = 0; probe < 5; probe++) {
    const t0 = performance.now();
    await redis.xread("BLOCK", 250, "STREAMS", "probe:nothing", "$");
    blockLate.push(performance.now() - t0 - 250);
  }
  return { hz, blockLate };
}

/**
 * Row 5: every replica's runner held by a request that waits to be cancelled, then `count`
 * requests submitted round-robin over the replicas (`concurrency` in flight): Redis's
 * used_memory and each replica's RSS before (after `warmUp` such submits) and after.
 */
async function benchQueued(replicas: readonly Replica[], redis: Redis): Promise<QueuedFigures> {
  const { count, warmUp, concurrency } = QUEUE_PLAN.queued;
  await holdRunners(replicas);
  const submitAll = async (n: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++;
          await submit(replicas[i % replicas.length] as Replica, { op: "run", results: 0, ms: 0 });
        }
      }),
    );
  };
  await submitAll(warmUp);
  const redisBefore = await usedMemory(redis);
  const before = replicas.map((r) => rssOf(r.pid));
  const t0 = performance.now();
  await submitAll(count);
  const submitMs = performance.now() - t0;
  const redisAfter = await usedMemory(redis);
  const after = replicas.map((r) => rssOf(r.pid));
  return {
    count,
    submitMs,
    redisBefore,
    redisAfter,
    rss: before.map((b, i) => ({ before: b, after: after[i] as number })),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { rows, notes } = await benchQueue();
  process.stdout.write(
    `${renderTable(rows, QUEUE_PEER_LABEL)}\n\n${notes.map((note) => `- ${note}`).join("\n")}\n`,
  );
}
