import { once } from "node:events";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deferred } from "../../src/internal/deferred.ts";
import { closeChannel, openChannels, type RankChannel } from "../../src/runner/channel.ts";

/** Collects what a channel's runner end reads until `bytes` have arrived. */
function collect(channel: RankChannel, bytes: number): Promise<Buffer> {
  const done = deferred<Buffer>();
  const chunks: Buffer[] = [];
  let total = 0;
  channel.onChunk = (chunk) => {
    // A copy: the channel reads every chunk into the same buffer.
    chunks.push(Buffer.from(chunk));
    total += chunk.byteLength;
    if (total >= bytes) done.resolve(Buffer.concat(chunks));
  };
  return done.promise;
}

describe("openChannels", () => {
  let temp: string;
  let previousTmpdir: string | undefined;
  const opened: RankChannel[] = [];

  beforeEach(() => {
    // os.tmpdir() reads TMPDIR on each call: the listener's directory goes in one of our own.
    temp = mkdtempSync(join(tmpdir(), "channel-test-"));
    previousTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = temp;
  });

  afterEach(() => {
    for (const channel of opened.splice(0)) closeChannel(channel);
    if (previousTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmpdir;
    rmSync(temp, { recursive: true, force: true });
  });

  async function openOne(): Promise<RankChannel> {
    const [channel] = await openChannels(1);
    if (channel === undefined) throw new Error("openChannels(1) gave no channel");
    opened.push(channel);
    return channel;
  }

  it("connects each runner end to its own remote end, both ways, and leaves no socket file", async () => {
    const channels = await openChannels(3);
    opened.push(...channels);
    expect(readdirSync(temp)).toEqual([]);
    for (const [i, channel] of channels.entries()) {
      const toRunner = collect(channel, 5);
      channel.remote.write(`rank${i}`);
      expect((await toRunner).toString()).toBe(`rank${i}`);
      channel.remote.resume();
      const toRank = once(channel.remote, "data");
      channel.socket.write(`to ${i}`);
      expect(String((await toRank)[0])).toBe(`to ${i}`);
    }
  });

  it("hands over every byte in order through its one reused read buffer (4 MiB)", async () => {
    const channel = await openOne();
    const data = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const received = collect(channel, data.length);
    channel.remote.end(data);
    expect((await received).equals(data)).toBe(true);
  });

  it("falls back to /tmp when the temp directory's path is too long for a socket", async () => {
    const long = join(temp, "d".repeat(120));
    mkdirSync(long);
    process.env.TMPDIR = long;
    const channel = await openOne();
    const received = collect(channel, 2);
    channel.remote.write("ok");
    expect((await received).toString()).toBe("ok");
    // libuv would cut a longer path short and bind beside the directory, leaving a file behind.
    expect(readdirSync(long)).toEqual([]);
    expect(readdirSync(temp)).toEqual(["d".repeat(120)]);
  });

  it("ends the runner end once every copy of the remote end is closed", async () => {
    const channel = await openOne();
    const ended = once(channel.socket, "end");
    channel.remote.destroy();
    await ended;
  });
});
