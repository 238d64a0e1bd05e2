import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { type Summary, summarize } from "./stats.ts";

function child(script: URL, args: readonly string[]): { process: ChildProcess; channel: Socket } {
  const process_ = spawn(process.execPath, [fileURLToPath(script), ...args], {
    stdio: ["ignore", "inherit", "inherit", "pipe"],
  });
  return { process: process_, channel: process_.stdio[3] as Socket };
}

/** Round trips of 4 bytes to `children` echoing children at once, as `invoke()` does to its ranks. */
export async function floorRoundTrip(
  script: URL,
  children: number,
  count: number,
): Promise<Summary> {
  const kids = Array.from({ length: children }, () => child(script, ["echo"]));
  let pending = 0;
  let done = (): void => {};
  for (const { channel } of kids) {
    channel.on("data", () => {
      if (--pending === 0) done();
    });
  }
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

/** One-way latency of `count` wall-clock stamps written `intervalMs` apart by a bare child. */
export async function floorLatency(
  script: URL,
  count: number,
  intervalMs: number,
): Promise<Summary> {
  const { process: kid, channel } = child(script, ["paced", String(count), String(intervalMs)]);
  const samples: number[] = [];
  let pending: Buffer = Buffer.alloc(0);
  channel.on("data", (chunk: Buffer) => {
    const now = performance.timeOrigin + performance.now();
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      samples.push(now - pending.readDoubleLE(0));
      pending = pending.subarray(8);
    }
  });
  await Promise.all([once(kid, "exit"), once(channel, "close")]);
  return summarize(samples);
}
