import type { TCPStore } from "../collectives/store/tcp-store.ts";
import { deferred, quiet } from "../internal/deferred.ts";
import type { RankConfig, RankMessage } from "../ipc/messages.ts";
import type { RankChannel } from "./channel.ts";
import { type RankExit, RankProcess } from "./rank-process.ts";

export interface RankGroupOptions {
  readonly generation: number;
  readonly worldSize: number;
  readonly workerUrl: string;
  readonly setup: unknown;
  readonly config: RankConfig;
  readonly entry: string;
  readonly nodeArgs: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly gpus: readonly string[];
  /** Hide every GPU from the ranks (the user asked for CPU with `gpus: []`). */
  readonly hideGpus: boolean;
  readonly masterAddr: string;
  /** The group's rendezvous store, hosted by the runner; closed once every rank has exited. */
  readonly store: TCPStore;
  /** One control channel per rank, from `openChannels`. */
  readonly channels: readonly RankChannel[];
  readonly onMessage: (group: RankGroup, rank: number, message: RankMessage) => void;
  readonly onExit: (group: RankGroup, rank: number, exit: RankExit) => void;
  readonly onProtocolError: (group: RankGroup, rank: number, error: unknown) => void;
}

/**
 * One generation of rank processes, started together with torchrun's environment contract. A
 * restart replaces the whole group: ranks share collectives, so one lost rank breaks them all.
 */
export class RankGroup {
  readonly generation: number;
  readonly ranks: readonly RankProcess[];
  /** Settles when every rank has exited and the store is closed. */
  private readonly gone: Promise<void>;
  readonly ready = new Set<number>();
  /** Settles when every rank is ready, or with the first reason one of them will never be. */
  readonly startup = deferred<void>();

  constructor(options: RankGroupOptions) {
    this.generation = options.generation;
    quiet(this.startup.promise);
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(options.env)) {
      if (value === undefined) delete base[key];
      else base[key] = value;
    }
    const ranks: RankProcess[] = [];
    for (let rank = 0; rank < options.worldSize; rank++) {
      const gpu = options.gpus[rank];
      const env: NodeJS.ProcessEnv = {
        ...base,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(options.worldSize),
        LOCAL_WORLD_SIZE: String(options.worldSize),
        MASTER_ADDR: options.masterAddr,
        MASTER_PORT: String(options.store.port),
        TROUPE_DEVICE: gpu === undefined ? "cpu" : "cuda:0",
      };
      if (gpu !== undefined) env.CUDA_VISIBLE_DEVICES = gpu;
      else if (options.hideGpus) env.CUDA_VISIBLE_DEVICES = "";
      const process_ = new RankProcess({
        rank,
        entry: options.entry,
        nodeArgs: options.nodeArgs,
        cwd: options.cwd,
        env,
        channel: options.channels[rank] as RankChannel,
        onMessage: (message) => options.onMessage(this, rank, message),
        onProtocolError: (error) => options.onProtocolError(this, rank, error),
      });
      void process_.exited.then((exit) => options.onExit(this, rank, exit));
      process_.send({
        t: "init",
        worker: options.workerUrl,
        setup: options.setup,
        config: options.config,
      });
      ranks.push(process_);
    }
    this.ranks = ranks;
    this.gone = Promise.all(ranks.map((rank) => rank.exited)).then(() => options.store.close());
  }

  get alive(): boolean {
    return this.ranks.every((rank) => rank.alive);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    for (const rank of this.ranks) rank.kill(signal);
  }

  /** Resolves when every rank process has exited (and the group's store is closed). */
  exited(): Promise<void> {
    return this.gone;
  }
}
