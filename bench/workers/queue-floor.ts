/**
 * Not a troupe worker: the writer of the back-to-back floor of bench/queue.ts, in a process of
 * its own as a replica's appends are. `queue-floor.js <redis url> <count>` connects, then for
 * each stream name read on stdin pipelines `count` XADDs of a result's fields to it, 512 a
 * pipeline, and writes one line when Redis has answered them all.
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";

const [url = "", count = "0"] = process.argv.slice(2);
const redis = new Redis(url, { protocol: 2 });
const CHUNK = 512;

for await (const stream of createInterface({ input: process.stdin })) {
  const replies: Promise<unknown>[] = [];
  for (let first = 0; first < Number(count); first += CHUNK) {
    const pipeline = redis.pipeline();
    for (let i = first; i < Math.min(Number(count), first + CHUNK); i++) {
      const data = JSON.stringify({ i, replica: process.pid, calledAt: 0, sent: 0 });
      pipeline.xadd(stream, `0-${i + 1}`, "t", "result", "d", data);
    }
    replies.push(pipeline.exec());
    // Let each pipeline go out as it is made, as a replica's batches do.
    await new Promise(setImmediate);
  }
  await Promise.all(replies);
  process.stdout.write("written\n");
}
redis.disconnect();
