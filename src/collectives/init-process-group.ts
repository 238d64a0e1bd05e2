import { InvalidArgumentError } from "../errors.ts";
import { nativeAddon } from "./native-addon.ts";
import { ProcessGroup } from "./process-group.ts";
import { StoreClient } from "./store/store-client.ts";
import { TCPStore } from "./store/tcp-store.ts";
import { rendezvous } from "./transport/rendezvous.ts";

/** Options of {@link initProcessGroup}. Each falls back to its torchrun environment variable. */
export interface InitProcessGroupOptions {
  /**
   * This process's rank, 0 ≤ rank < worldSize.
   * @default Number(process.env.RANK)
   */
  readonly rank?: number;
  /**
   * Number of ranks.
   * @default Number(process.env.WORLD_SIZE)
   */
  readonly worldSize?: number;
  /**
   * This process's rank among the ranks of its host.
   * @default Number(process.env.LOCAL_RANK ?? rank)
   */
  readonly localRank?: number;
  /**
   * Host of the rendezvous store.
   * @default process.env.MASTER_ADDR ?? "127.0.0.1"
   */
  readonly masterAddr?: string;
  /**
   * Port of the rendezvous store.
   * @default Number(process.env.MASTER_PORT ?? 29500)
   */
  readonly masterPort?: number;
  /**
   * Milliseconds every operation may take by default, and joining the group may take.
   * @default 300_000
   */
  readonly timeout?: number;
  /** Aborts joining the group. */
  readonly signal?: AbortSignal;
  /**
   * Whether this rank serves the store on `masterPort`. Pass `false` on every rank when a
   * launcher serves it with `TCPStore.listen()`.
   * @default rank === 0
   */
  readonly isStoreHost?: boolean;
  /**
   * `"tcp"` makes ranks on one host talk over TCP too, as if on different hosts.
   * @default process.env.TROUPE_DIST_TRANSPORT ?? "auto"
   */
  readonly transport?: "auto" | "tcp";
}

/**
 * Joins the world group: meets the other ranks at the store on `masterAddr:masterPort`, then
 * connects to each directly (shared memory and Unix sockets on one host, TCP across hosts).
 * Without options it reads `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR` and `MASTER_PORT`,
 * so ranks started by any launcher can join.
 *
 * @example
 * await using dist = await initProcessGroup();
 * const parts = await dist.gather(preview, { dst: 0 });
 */
export async function initProcessGroup(
  options: InitProcessGroupOptions = {},
): Promise<ProcessGroup> {
  const env = process.env;
  const rank = integer(options.rank ?? env.RANK, "rank", "RANK", 0);
  const worldSize = integer(options.worldSize ?? env.WORLD_SIZE, "worldSize", "WORLD_SIZE", 1);
  if (rank >= worldSize) {
    throw new InvalidArgumentError(
      `Expected \`rank\` to be less than \`worldSize\` ${worldSize}, got ${rank}`,
    );
  }
  const localRank = integer(
    options.localRank ?? env.LOCAL_RANK ?? rank,
    "localRank",
    "LOCAL_RANK",
    0,
  );
  const masterAddr = options.masterAddr ?? env.MASTER_ADDR ?? "127.0.0.1";
  const masterPort = integer(
    options.masterPort ?? env.MASTER_PORT ?? 29500,
    "masterPort",
    "MASTER_PORT",
    0,
  );
  if (masterPort > 65535) {
    throw new InvalidArgumentError(
      `Expected \`masterPort\` to be at most 65535, got ${masterPort}`,
    );
  }
  const timeout = options.timeout ?? 300_000;
  if (!(typeof timeout === "number" && timeout > 0)) {
    throw new InvalidArgumentError(
      `Expected \`timeout\` to be a positive number of milliseconds, got ${timeout}`,
    );
  }
  const transport = options.transport ?? env.TROUPE_DIST_TRANSPORT ?? "auto";
  if (transport !== "auto" && transport !== "tcp") {
    throw new InvalidArgumentError(
      `Expected \`transport\` to be "auto" or "tcp", got ${JSON.stringify(transport)}`,
    );
  }
  options.signal?.throwIfAborted();
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(timeout)])
    : AbortSignal.timeout(timeout);

  const server =
    (options.isStoreHost ?? rank === 0) ? await TCPStore.listen({ port: masterPort }) : undefined;
  let store: StoreClient | undefined;
  try {
    store = await StoreClient.connect({ host: masterAddr, port: masterPort, timeout, signal });
    const comm = await rendezvous({
      rank,
      worldSize,
      store,
      signal,
      tcpOnly: transport === "tcp",
      addon: nativeAddon(),
    });
    const info = { id: 0, name: "the world group", ranks: [...Array(worldSize).keys()] };
    const resources = {
      comm,
      localRank,
      groupCounts: new Map<string, number>(),
      close: async () => {
        await server?.close();
      },
    };
    return new ProcessGroup({ comm, info, index: rank, timeout }, resources, true);
  } catch (error) {
    await server?.close();
    throw error;
  } finally {
    store?.close();
  }
}

function integer(value: unknown, name: string, variable: string, min: number): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < min) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` (or the ${variable} environment variable) to be an integer ≥ ${min}, got ${value === undefined ? "undefined" : JSON.stringify(value)}`,
    );
  }
  return number;
}
