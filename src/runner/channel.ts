import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oneBufferReads } from "../ipc/one-buffer-reads.ts";

/**
 * The runner's end of one rank's control channel, a connected Unix stream socket, read as
 * ipc/one-buffer-reads.ts says. This is the path of every streamed result, so it counts in their
 * latency. `onChunk` must copy what it keeps.
 */
export interface RankChannel {
  readonly socket: Socket;
  /** The rank's end, to be handed to its process as fd 3 and then closed here. */
  readonly remote: Socket;
  onChunk: (chunk: Uint8Array) => void;
}

/**
 * `count` channels. Node has no `socketpair()`, so each pair is one connection to a listener on a
 * socket file in a fresh private directory (mode 0700: only this user can connect), which is
 * removed once every pair is connected.
 */
export async function openChannels(count: number): Promise<RankChannel[]> {
  const dir = await mkdtemp(join(socketBase(), "troupe-"));
  const path = join(dir, "channel");
  const server = createServer({ pauseOnConnect: true });
  const channels: RankChannel[] = [];
  try {
    server.listen(path);
    await once(server, "listening");
    // One at a time, so that each accepted connection is the one just made.
    for (let i = 0; i < count; i++) channels.push(await connect(server, path));
    return channels;
  } catch (error) {
    for (const channel of channels) closeChannel(channel);
    throw error;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Longest socket path every platform takes (Linux allows 107 bytes, macOS 103). */
const MAX_SOCKET_PATH = 100;

/**
 * The system's temp directory, or /tmp where a socket path under it would be too long: libuv
 * cuts a longer path short without a word, and the socket would be made somewhere else.
 */
function socketBase(): string {
  const base = tmpdir();
  return join(base, "troupe-XXXXXX", "channel").length <= MAX_SOCKET_PATH ? base : "/tmp";
}

/** Closes both ends (a channel whose rank never started). */
export function closeChannel(channel: RankChannel): void {
  channel.socket.destroy();
  channel.remote.destroy();
}

async function connect(server: Server, path: string): Promise<RankChannel> {
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const channel = new Channel(path);
  try {
    const [, [remote]] = await Promise.all([once(channel.socket, "connect"), accepted]);
    channel.remote = remote;
  } catch (error) {
    channel.socket.destroy();
    throw error;
  }
  return channel;
}

class Channel implements RankChannel {
  readonly socket: Socket;
  remote!: Socket;
  onChunk: (chunk: Uint8Array) => void = () => {};

  constructor(path: string) {
    this.socket = netConnect({
      path,
      onread: oneBufferReads((chunk) => this.onChunk(chunk)),
    });
  }
}
