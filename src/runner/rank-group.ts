import type { TCPStore } from "../collectives/store/tcp-store.ts";
import {
  abortReason,
  deserializeError,
  ErrorCode,
  InvalidWorkerError,
  ProtocolError,
  RunnerStateError,
  SetupError,
  StartTimeoutError,
  WorkerExitedError,
} from "../errors.ts";
import { deferred, quiet } from "../internal/deferred.ts";
import type { RankConfig, RankMessage, RunnerMessage } from "../ipc/messages.ts";
import { closeChannel, type RankChannel } from "./channel.ts";
import { rankStartEnv } from "./node-args.ts";
import { type RankExit, RankProcess } from "./rank-process.ts";
import type { RunnerLog } from "./runner-log.ts";

/** How long ranks get after SIGTERM (at the end of a stop's timeout) before SIGKILL, in ms. */
const STOP_KILL_GRACE = 2000;

/** A rank's message about a request: it carries the request's `id`. */
export type RequestMessage = Extract<RankMessage, { id: number }>;

/** Where a group delivers its ranks' request messages (the runner's scheduler). */
export interface RequestMessageSink {
  receive(rank: number, message: RequestMessage): void;
}

/**
 * Where a group is in its life: `starting` until every rank is ready, then `ready`; `failed` once
 * it broke (its ranks are killed), `stopping` once asked to stop, `stopped` when every rank exited.
 */
export type GroupState = "starting" | "ready" | "failed" | "stopping" | "stopped";

/** One rank as the runner sees it. */
export interface RankInfo {
  readonly rank: number;
  readonly pid: number | undefined;
  readonly state: "starting" | "ready" | "exited";
}

/**
 * The blueprint of a group, the same for every generation (torch's `WorkerSpec`): what each rank
 * runs and how long it may take to be ready.
 */
export interface RankGroupSpec {
  readonly worldSize: number;
  readonly workerUrl: string;
  /** Passed to every rank's `setup()`. */
  readonly setup: unknown;
  readonly config: RankConfig;
  readonly entry: string;
  readonly nodeArgs: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly masterAddr: string;
  /** `ready` rejects with START_TIMEOUT when not every rank is ready after this many ms. */
  readonly startTimeout: number;
}

/** What one generation gets on top of its spec. */
export interface RankGroupOptions {
  readonly generation: number;
  readonly gpus: readonly string[];
  /** Hide every GPU from the ranks (the user asked for CPU with `gpus: []`). */
  readonly hideGpus: boolean;
  /** The group's rendezvous store, hosted by the runner; closed once every rank has exited. */
  readonly store: TCPStore;
  /** One control channel per rank, from `openChannels`. */
  readonly channels: readonly RankChannel[];
  /** Receives the ranks' request messages. */
  readonly sink: RequestMessageSink;
  readonly log: RunnerLog;
  /** Abandons the start: `ready` rejects with its reason and the ranks are killed. */
  readonly signal?: AbortSignal;
}

/**
 * One generation of rank processes, started together with torchrun's environment contract
 * (torch's `WorkerGroup`), and the owner of their state: it tells when every rank is ready
 * (`ready`) and when the group broke after that (`failure`), and kills its ranks when it breaks.
 * A restart replaces the whole group: ranks share collectives, so one lost rank breaks them all.
 */
export class RankGroup {
  readonly generation: number;
  readonly ranks: readonly RankProcess[];
  /**
   * Resolves when every rank has run `setup()`; rejects with the first reason one never will
   * (SetupError, InvalidWorkerError, WorkerExitedError, ProtocolError, StartTimeoutError, or the
   * signal's reason), after which the group is `failed`.
   */
  readonly ready: Promise<void>;
  /**
   * Resolves with the first reason the group broke once it was ready (a rank exited, sent an
   * undecodable frame, or `fail()` was called). Never rejects; stays pending if it never breaks.
   */
  readonly failure: Promise<Error>;
  private currentState: GroupState = "starting";
  private readonly readyRanks = new Set<number>();
  private readonly startup = deferred<void>();
  private readonly broken = deferred<Error>();
  private readonly gone: Promise<void>;
  private readonly sink: RequestMessageSink;
  private readonly log: RunnerLog;
  private readonly producers: readonly RankProcess[];

  constructor(spec: RankGroupSpec, options: RankGroupOptions) {
    this.generation = options.generation;
    this.sink = options.sink;
    this.log = options.log;
    this.ready = quiet(this.startup.promise);
    this.failure = this.broken.promise;
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const [key, value] of Object.entries(spec.env)) {
      if (value === undefined) delete base[key];
      else base[key] = value;
    }
    Object.assign(base, rankStartEnv(base));
    const ranks: RankProcess[] = [];
    let unstarted: WorkerExitedError | undefined;
    for (let rank = 0; rank < spec.worldSize; rank++) {
      const gpu = options.gpus[rank];
      const env: NodeJS.ProcessEnv = {
        ...base,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(spec.worldSize),
        LOCAL_WORLD_SIZE: String(spec.worldSize),
        MASTER_ADDR: spec.masterAddr,
        MASTER_PORT: String(options.store.port),
        TROUPE_DEVICE: gpu === undefined ? "cpu" : "cuda:0",
        // The rank exits at once if its parent is not this process (see worker/entry.ts).
        TROUPE_RUNNER_PID: String(process.pid),
      };
      if (gpu !== undefined) env.CUDA_VISIBLE_DEVICES = gpu;
      else if (options.hideGpus) env.CUDA_VISIBLE_DEVICES = "";
      let process_: RankProcess;
      try {
        process_ = new RankProcess({
          rank,
          entry: spec.entry,
          nodeArgs: spec.nodeArgs,
          cwd: spec.cwd,
          env,
          channel: options.channels[rank] as RankChannel,
          onMessage: (message) => this.receive(rank, message),
          onProtocolError: (error) => this.onProtocolError(rank, error),
        });
      } catch (error) {
        // The ranks before it run already: the group holds them and fails below, killing them,
        // rather than throwing past them (they would wait for their missing peer, orphaned).
        unstarted = new WorkerExitedError(
          `Rank ${rank} could not be started: ${error instanceof Error ? error.message : String(error)}`,
          { rank, cause: error },
        );
        for (const channel of options.channels.slice(rank + 1)) closeChannel(channel);
        break;
      }
      void process_.exited.then((exit) => this.onExit(rank, exit));
      process_.send({ t: "init", worker: spec.workerUrl, setup: spec.setup, config: spec.config });
      ranks.push(process_);
    }
    this.ranks = ranks;
    this.producers = spec.config.streamAllRanks ? ranks : ranks.slice(0, 1);
    this.gone = Promise.all(ranks.map((rank) => rank.exited)).then(() => {
      if (this.currentState === "stopping") this.currentState = "stopped";
      return options.store.close();
    });
    this.watchStart(spec.startTimeout, options.signal);
    if (unstarted !== undefined) this.fail(unstarted);
  }

  get state(): GroupState {
    return this.currentState;
  }

  get worldSize(): number {
    return this.ranks.length;
  }

  /** `true` while the group is ready and every rank process runs. */
  get alive(): boolean {
    return this.currentState === "ready" && this.ranks.every((rank) => rank.alive);
  }

  /** Each rank's process and state. */
  info(): RankInfo[] {
    return this.ranks.map((rank) => ({
      rank: rank.rank,
      pid: rank.pid,
      state: !rank.alive ? "exited" : this.readyRanks.has(rank.rank) ? "ready" : "starting",
    }));
  }

  /** Sends a frame from `encodeFrame` to every rank: one encode for a message all of them get. */
  broadcast(frame: Uint8Array): void {
    for (const rank of this.ranks) rank.sendFrame(frame);
  }

  send(rank: number, message: RunnerMessage): void {
    this.ranks[rank]?.send(message);
  }

  /** Stops reading results from the ranks that stream them (rank 0, or all with `streamAllRanks`). */
  pauseResults(): void {
    for (const rank of this.producers) rank.pause();
  }

  resumeResults(): void {
    for (const rank of this.producers) rank.resume();
  }

  /**
   * The group can no longer be used (a part that uses it found it broken): its ranks are killed,
   * and `ready` rejects, or `failure` resolves, with `error`.
   */
  fail(error: Error): void {
    switch (this.currentState) {
      case "starting":
        this.currentState = "failed";
        this.startup.reject(error);
        break;
      case "ready":
        this.currentState = "failed";
        this.broken.resolve(error);
        break;
      case "stopping":
        // Stopping anyway: killing the ranks only ends it sooner.
        break;
      default:
        return;
    }
    this.kill("SIGKILL");
  }

  /**
   * Asks every rank to run `teardown()` and exit, killing them after `timeout` ms (SIGTERM, then
   * SIGKILL); with 0 they are killed at once. Resolves when every rank has exited.
   */
  stop(timeout: number): Promise<void> {
    const state = this.currentState;
    if (state === "starting") {
      this.startup.reject(
        new RunnerStateError(ErrorCode.RUNNER_STOPPED, "The rank group was stopped while starting"),
      );
    }
    if (state === "starting" || state === "ready") this.currentState = "stopping";
    if (timeout === 0) {
      this.kill("SIGKILL");
    } else if (state === "starting" || state === "ready") {
      for (const rank of this.ranks) rank.send({ t: "stop" });
      const timer = setTimeout(() => {
        this.kill("SIGTERM");
        setTimeout(() => this.kill("SIGKILL"), STOP_KILL_GRACE).unref();
      }, timeout);
      void this.gone.then(() => clearTimeout(timer));
    }
    return this.gone;
  }

  /** Resolves when every rank process has exited (and the group's store is closed). */
  exited(): Promise<void> {
    return this.gone;
  }

  private kill(signal: NodeJS.Signals): void {
    for (const rank of this.ranks) rank.kill(signal);
  }

  /** Arms the start-up timeout and the abort signal, both dropped once `ready` settles. */
  private watchStart(timeout: number, signal: AbortSignal | undefined): void {
    const timer = setTimeout(() => {
      const missing = this.ranks.filter((r) => !this.readyRanks.has(r.rank)).map((r) => r.rank);
      this.fail(
        new StartTimeoutError(
          `Rank${missing.length === 1 ? "" : "s"} ${missing.join(", ")} did not finish setup() within ${timeout} ms`,
          { details: { ranks: missing, timeout } },
        ),
      );
    }, timeout);
    const onAbort = (): void => this.fail(abortReason(signal as AbortSignal));
    signal?.addEventListener("abort", onAbort, { once: true });
    const settled = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    void this.ready.then(settled, settled);
    if (signal?.aborted === true) onAbort();
  }

  private receive(rank: number, message: RankMessage): void {
    switch (message.t) {
      case "ready":
        this.readyRanks.add(rank);
        if (this.currentState === "starting" && this.readyRanks.size === this.ranks.length) {
          this.currentState = "ready";
          this.startup.resolve();
        }
        return;
      case "setupFailed": {
        if (this.currentState !== "starting") return;
        const cause = deserializeError(message.error);
        this.fail(
          cause instanceof InvalidWorkerError
            ? cause
            : new SetupError(`Rank ${rank} failed in setup(): ${message.error.message}`, {
                rank,
                cause,
              }),
        );
        return;
      }
      case "log":
        this.log.rank(rank, message.level, message.msg);
        return;
      case "output":
        for (const line of lines(message.text)) this.log.output(rank, message.stream, line);
        return;
      case "stopped":
        return;
      default:
        // A broken group's ranks are being killed: what they still send belongs to no request,
        // but the one rank of a group of one that says it began the running request decides that
        // request's fate (it ran, so it fails rather than being re-queued). On several ranks the
        // scheduler sends a broken group no `go`, so their acknowledgements change nothing.
        if (this.currentState !== "failed" || message.t === "started") {
          this.sink.receive(rank, message);
        }
    }
  }

  private onExit(rank: number, exit: RankExit): void {
    if (this.currentState !== "starting" && this.currentState !== "ready") return;
    const how = exit.signal !== null ? `from signal ${exit.signal}` : `with code ${exit.code}`;
    this.fail(
      new WorkerExitedError(`Rank ${rank} exited ${how}`, {
        rank,
        details: { exitCode: exit.code, signal: exit.signal },
      }),
    );
  }

  private onProtocolError(rank: number, cause: unknown): void {
    if (this.currentState !== "starting" && this.currentState !== "ready") return;
    this.fail(
      cause instanceof ProtocolError
        ? new ProtocolError(`Rank ${rank}: ${cause.message}`, { rank, cause })
        : new ProtocolError(`Rank ${rank} sent an undecodable frame`, { rank, cause }),
    );
  }
}

/** The lines of a piece of printed text; a last line without its newline counts too. */
function lines(text: string): string[] {
  const out = text.split("\n");
  if (out.at(-1) === "") out.pop();
  return out;
}
