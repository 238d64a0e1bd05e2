import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Summary, summarize } from "./stats.ts";
import { monotonicMs } from "./workers/clock.ts";

interface Child {
  readonly process: ChildProcess;
  readonly channel: Socket;
}

/**
 * A bare child on a connected Unix socket as its fd 3, whose parent end reads with `onread` into
 * one buffer and hands each read to `onChunk`: the kind of channel troupe's runner has with a
 * rank, made the same way, without anything of troupe's.
 */
async function child(
  script: URL,
  args: readonly string[],
  onChunk: (chunk: Buffer) => void,
): Promise<Child> {
  const dir = await mkdtemp(join(tmpdir(), "floor-"));
  const path = join(dir, "channel");
  const server = createServer({ pauseOnConnect: true }).listen(path);
  try {
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const channel = connect({
      path,
      onread: {
        buffer: Buffer.allocUnsafe(256 * 1024),
        callback: (bytes, into) => {
          onChunk((into as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    const [, [remote]] = await Promise.all([once(channel, "connect"), accepted]);
    const process_ = spawn(process.execPath, [fileURLToPath(script), ...args], {
      stdio: ["ignore", "inherit", "inherit", remote],
    });
    remote.destroy();
    return { process: process_, channel };
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Round trips of 4 bytes to `children` echoing children at once, as `invoke()` does to its ranks. */
export async function floorRoundTrip(
  script: URL,
  children: number,
  count: number,
): Promise<Summary> {
  let pending = 0;
  let done = (): void => {};
  const echoed = (): void => {
    if (--pending === 0) done();
  };
  const kids: Child[] = [];
  for (let i = 0; i < children; i++) kids.push(await child(script, ["echo"], echoed));
  const roundTrip = (): Promise<void> =>
    new Promise((resolve) => {
      done = resolve;
      pending = kids.length;
      for (const { channel } of kids) channel.write(new Uint8Array([1, 2, 3, 4]));
    });
  for (let i = 0; i < 200; i++) await roundTrip();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await roundTrip();
    samples.push(performance.now() - t0);
  }
  await Promise.all(
    kids.map(({ channel }) => {
      channel.end();
      return once(channel, "close");
    }),
  );
  return summarize(samples);
}

/** One-way latencies of `count` clock stamps written `intervalMs` apart by a bare child. */
export async function floorLatency(
  script: URL,
  count: number,
  intervalMs: number,
): Promise<number[]> {
  const samples: number[] = [];
  let pending: Buffer = Buffer.alloc(0);
  const stamps = (chunk: Buffer): void => {
    const now = monotonicMs();
    // A copy: the chunk's buffer is read into again.
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      samples.push(now - pending.readDoubleLE(0));
      pending = pending.subarray(8);
    }
  };
  const kid = await child(script, ["paced", String(count), String(intervalMs)], stamps);
  await Promise.all([once(kid.process, "exit"), once(kid.channel, "close")]);
  return samples;
}
