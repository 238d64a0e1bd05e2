/**
 * Not a troupe worker: a bare Node child on the same kind of channel as a rank (a connected Unix
 * socket on fd 3), with no framing, encoding or queue. It gives the platform's floor for the figures.
 * `floor.js echo` echoes every chunk; `floor.js paced <count> <ms>` writes the monotonic clock as an
 * 8-byte double every `ms`, `count` times, then exits.
 */
import { Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { monotonicMs } from "./clock.ts";

const channel = new Socket({ fd: 3, readable: true, writable: true });
channel.on("end", () => process.exit(0));
const [mode, count = "0", intervalMs = "0"] = process.argv.slice(2);

if (mode === "echo") {
  channel.on("data", (chunk: Buffer) => channel.write(chunk));
} else {
  for (let i = 0; i < Number(count); i++) {
    await delay(Number(intervalMs));
    const stamp = Buffer.allocUnsafe(8);
    stamp.writeDoubleLE(monotonicMs());
    channel.write(stamp);
  }
  channel.end(() => process.exit(0));
}
