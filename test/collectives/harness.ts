import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../bench/free-port.ts";
import { TCPStore } from "../../src/collectives/index.ts";
import type { SerializedError } from "../../src/errors.ts";

const entry = fileURLToPath(new URL("../fixtures/collectives/rank.ts", import.meta.url));

export interface RankMessage {
  readonly type: string;
  readonly value?: unknown;
  readonly error?: SerializedError;
  readonly [key: string]: unknown;
}

export interface RankOutcome {
  readonly rank: number;
  readonly value?: unknown;
  readonly error?: SerializedError;
}

export interface LaunchOptions {
  /** Extra environment for every rank, or per rank. */
  readonly env?: Record<string, string> | ((rank: number) => Record<string, string>);
  /** Serve the store from the test process (default) or let rank 0 host it. */
  readonly storeHost?: "test" | "rank0";
  /** Wraps the command, e.g. `ip netns exec ns0`. */
  readonly wrap?: (rank: number) => { command: string; args: string[] } | undefined;
  readonly masterAddr?: (rank: number) => string;
}

/** Ranks running `test/fixtures/collectives/rank.ts` with one scenario, and their messages. */
export class Launch implements AsyncDisposable {
  readonly children: ChildProcess[] = [];
  readonly #messages: RankMessage[][] = [];
  readonly #waiters: Array<Array<(m: RankMessage) => void>> = [];
  readonly #exits: Promise<void>[] = [];
  store: TCPStore | undefined;

  /** The next message of `type` from `rank` (earlier ones included). */
  message(rank: number, type: string): Promise<RankMessage> {
    const queue = this.#messages[rank] ?? [];
    const index = queue.findIndex((m) => m.type === type);
    if (index >= 0) return Promise.resolve(queue.splice(index, 1)[0] as RankMessage);
    return new Promise((resolve) => {
      const waiter = (m: RankMessage) => {
        if (m.type !== type) return;
        (this.#waiters[rank] ?? []).splice((this.#waiters[rank] ?? []).indexOf(waiter), 1);
        queue.splice(queue.indexOf(m), 1);
        resolve(m);
      };
      this.#waiters[rank]?.push(waiter);
    });
  }

  /** Sends a message to a rank's scenario. */
  tell(rank: number, message: unknown): void {
    this.children[rank]?.send(message as never);
  }

  /** What every rank's scenario returned or threw, in rank order. */
  async outcomes(ranks?: readonly number[]): Promise<RankOutcome[]> {
    const which = ranks ?? this.children.map((_, rank) => rank);
    return Promise.all(
      which.map(async (rank) => {
        const m = await Promise.race([
          this.message(rank, "done"),
          this.#exits[rank]?.then(
            (): RankMessage => ({
              type: "done",
              error: { name: "Error", message: `rank ${rank} exited` },
            }),
          ),
        ]);
        return {
          rank,
          ...(m?.value === undefined ? {} : { value: m.value }),
          ...(m?.error ? { error: m.error } : {}),
        };
      }),
    );
  }

  /** Resolves once rank `rank` exited. */
  async exitedRank(rank: number): Promise<void> {
    await this.#exits[rank];
  }

  /** Resolves once every rank exited. */
  async exited(): Promise<void> {
    await Promise.all(this.#exits);
  }

  add(child: ChildProcess, rank: number): void {
    this.children[rank] = child;
    this.#messages[rank] = [];
    this.#waiters[rank] = [];
    child.on("message", (m: RankMessage) => {
      this.#messages[rank]?.push(m);
      for (const waiter of [...(this.#waiters[rank] ?? [])]) waiter(m);
    });
    this.#exits[rank] = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await this.exited();
    await this.store?.close();
  }
}

/** Starts `worldSize` rank processes running `scenario`. */
export async function launch(scenario: string, worldSize: number, options: LaunchOptions = {}) {
  const run = new Launch();
  let port: number;
  if ((options.storeHost ?? "test") === "test") {
    run.store = await TCPStore.listen({ host: "0.0.0.0", port: 0 });
    port = run.store.port;
  } else {
    port = await freePort();
  }
  for (let rank = 0; rank < worldSize; rank++) {
    const extra = typeof options.env === "function" ? options.env(rank) : (options.env ?? {});
    const env = {
      ...process.env,
      RANK: String(rank),
      WORLD_SIZE: String(worldSize),
      LOCAL_RANK: String(rank),
      MASTER_ADDR: options.masterAddr?.(rank) ?? "127.0.0.1",
      MASTER_PORT: String(port),
      TROUPE_SCENARIO: scenario,
      TROUPE_STORE_HOST: (options.storeHost ?? "test") === "test" ? "0" : "",
      ...extra,
    };
    const wrapped = options.wrap?.(rank);
    const child = wrapped
      ? fork(entry, [], {
          env,
          execPath: wrapped.command,
          execArgv: [...wrapped.args, process.execPath, "--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        })
      : fork(entry, [], {
          env,
          execArgv: ["--import", "tsx"],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
    run.add(child, rank);
  }
  return run;
}
