import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { abortReason } from "../../errors.ts";
import { onAbort } from "../../internal/abort-of.ts";
import { Communicator } from "../engine/communicator.ts";
import { RendezvousError } from "../errors.ts";
import type { NativeAddon } from "../native-addon.ts";
import type { StoreClient } from "../store/store-client.ts";
import { collect, FrameParser } from "./frame-parser.ts";
import { HEADER_SIZE, Kind, writeHeader } from "./header.ts";
import { hostKey } from "./host-key.ts";
import { Peer } from "./peer.ts";

/** Bytes each inbound connection reads into per call. */
const READ_BUFFER_BYTES = 1 << 20;

export interface RendezvousOptions {
  readonly rank: number;
  readonly worldSize: number;
  readonly store: StoreClient;
  readonly signal: AbortSignal;
  /** Only TCP, even between ranks on one host. */
  readonly tcpOnly: boolean;
  readonly addon: NativeAddon | undefined;
}

interface Address {
  readonly host: string;
  readonly port: number;
  readonly uds: string | undefined;
  readonly hostKey: string;
  readonly shm: boolean;
}

/**
 * Connects this rank to every other. Each rank publishes its addresses in the store, then opens
 * one connection to every other rank and reads from it; the peer writes to this rank on the
 * connection it accepted. One direction per socket lets the reader use a reused read buffer.
 */
export async function rendezvous(options: RendezvousOptions): Promise<Communicator> {
  const sockets: Socket[] = [];
  const servers: Server[] = [];
  try {
    return await connectAll(options, sockets, servers);
  } catch (error) {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
    throw error;
  }
}

async function connectAll(
  options: RendezvousOptions,
  sockets: Socket[],
  servers: Server[],
): Promise<Communicator> {
  const { rank, worldSize, store, signal } = options;
  const joined = await store.add("troupe/joined", 1);
  const prefix = `troupe/${Math.floor((joined - 1) / worldSize)}`;
  if (rank === 0) await store.set(`${prefix}/nonce`, randomBytes(6).toString("hex"));
  const token = await store.get(`${prefix}/nonce`, signal);
  const comm = new Communicator(rank, worldSize, token, options.addon);
  if (worldSize === 1) return comm;

  const key = hostKey();
  const uds = options.tcpOnly ? undefined : `\0troupe-${token}-${rank}`;
  const writers = new Map<number, Socket>();
  const readers = new Map<number, Socket>();
  let settle: (() => void) | undefined;
  const check = () => {
    if (writers.size === worldSize - 1 && readers.size === worldSize - 1) settle?.();
  };
  const accept = (socket: Socket) => {
    sockets.push(socket);
    socket.setNoDelay(true);
    socket.on("error", () => {});
    const parser = new FrameParser((h) =>
      collect(h.length, (payload) => {
        const from = h.aux;
        if (
          h.kind !== Kind.HELLO ||
          Buffer.from(payload).toString() !== token ||
          from >= worldSize
        ) {
          socket.destroy();
          return;
        }
        socket.removeAllListeners("data");
        writers.set(from, socket);
        check();
      }),
    );
    socket.on("data", (chunk: Buffer) => parser.push(chunk));
  };
  const tcp = await listen(createServer(accept), everyAddress());
  comm.servers.push(tcp);
  servers.push(tcp);
  if (uds !== undefined) {
    const unix = await listen(createServer(accept), { path: uds });
    comm.servers.push(unix);
    servers.push(unix);
  }

  const address = tcp.address();
  const mine: Address = {
    host: store.localAddress,
    port: typeof address === "object" && address !== null ? address.port : 0,
    uds,
    hostKey: key,
    shm: options.addon !== undefined && !options.tcpOnly,
  };
  await store.set(`${prefix}/addr/${rank}`, JSON.stringify(mine));
  const others = [...Array(worldSize).keys()].filter((r) => r !== rank);
  const published = new Set<number>();
  const addresses = await Promise.all(
    others.map(async (r) => {
      const value = JSON.parse(await store.get(`${prefix}/addr/${r}`, signal)) as Address;
      published.add(r);
      return [r, value] as const;
    }),
  ).catch((error: unknown) => {
    const missing = others.filter((r) => !published.has(r));
    throw new RendezvousError(
      `Rank ${rank} gave up waiting for ${missing.length === 1 ? "rank" : "ranks"} ${missing.join(", ")} to join: ${(error as Error).message}`,
      { rank, cause: error, details: { missingRanks: missing } },
    );
  });

  const pending = new Map<number, Buffer[]>();
  const peers = comm.peers;
  for (const [r, peerAddress] of addresses) {
    const local = peerAddress.hostKey === key && !options.tcpOnly && peerAddress.uds !== undefined;
    const socket = await open(peerAddress, local, (bytes) => {
      const peer = peers[r];
      if (peer !== undefined) peer.parser.push(bytes);
      else pending.set(r, [...(pending.get(r) ?? []), Buffer.from(bytes)]);
    });
    const hello = Buffer.allocUnsafe(HEADER_SIZE + Buffer.byteLength(token));
    writeHeader(hello, 0, {
      kind: Kind.HELLO,
      dtype: 0,
      group: 0,
      epoch: 0,
      seq: 0,
      tag: 0,
      aux: rank,
      length: Buffer.byteLength(token),
    });
    hello.write(token, HEADER_SIZE);
    socket.write(hello);
    sockets.push(socket);
    readers.set(r, socket);
  }

  await new Promise<void>((resolve, reject) => {
    const giveUp = () => {
      const missing = others.filter((r) => !writers.has(r));
      reject(
        new RendezvousError(
          `Rank ${rank} gave up waiting for connections from ranks ${missing.join(", ")}: ${abortReason(signal).message}`,
          { rank, details: { missingRanks: missing } },
        ),
      );
    };
    // The signal may have aborted while the connections above were opened: onAbort runs it now.
    const offAbort = onAbort(signal, giveUp);
    settle = () => {
      offAbort();
      resolve();
    };
    check();
  });

  for (const [r, peerAddress] of addresses) {
    const writer = writers.get(r) as Socket;
    const reader = readers.get(r) as Socket;
    const local = peerAddress.hostKey === key && !options.tcpOnly;
    const peer = new Peer(r, local, local && mine.shm && peerAddress.shm, writer, (p, h) =>
      comm.begin(p, h),
    );
    peer.reader = reader;
    peers[r] = peer;
    // Only the reading side decides that the peer is gone: it closes after every frame the peer
    // wrote was read, so a peer that finished its part and exited is not taken for a crash.
    reader.on("close", () => comm.peerClosed(peer));
    for (const bytes of pending.get(r) ?? []) peer.parser.push(bytes);
  }
  return comm;
}

/**
 * Where the TCP listener binds: every address of this host. Without a host where an IPv6 socket
 * takes IPv4 too (Linux's `bindv6only` 0), so Node binds `::` as it is: given one, Node 24
 * compiles its IPv6 pattern to check it, a rank's slowest step in joining (about 5 ms).
 */
function everyAddress(): { port: number; host?: string } {
  try {
    if (readFileSync("/proc/sys/net/ipv6/bindv6only", "utf8").trim() === "0") return { port: 0 };
  } catch {
    // Not Linux, or no IPv6: name the IPv4 address.
  }
  return { port: 0, host: "0.0.0.0" };
}

function listen(server: Server, where: { port: number; host?: string } | { path: string }) {
  return new Promise<Server>((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function open(
  address: Address,
  local: boolean,
  onBytes: (bytes: Uint8Array) => void,
): Promise<Socket> {
  const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  const onread = {
    buffer,
    callback: (length: number, chunk: Uint8Array) => {
      onBytes(chunk.subarray(0, length));
      return true;
    },
  };
  const target =
    local && address.uds !== undefined
      ? { path: address.uds }
      : { host: address.host, port: address.port };
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ ...target, onread, noDelay: true });
    socket.once("connect", () => {
      socket.off("error", reject);
      socket.on("error", () => {});
      resolve(socket);
    });
    socket.once("error", reject);
  });
}
