import { connect, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { abortReason } from "../../errors.ts";
import { StoreError } from "../errors.ts";
import { encodeFrame, FrameReader } from "./frame-reader.ts";
import type { StoreReply, StoreRequest } from "./tcp-store.ts";

/** Options of {@link StoreClient.connect}. */
export interface StoreClientOptions {
  readonly host: string;
  readonly port: number;
  /** Gives up connecting after this many milliseconds. */
  readonly timeout: number;
  readonly signal?: AbortSignal;
}

type RequestBody =
  | Omit<Extract<StoreRequest, { op: "set" }>, "id">
  | Omit<Extract<StoreRequest, { op: "get" }>, "id">
  | Omit<Extract<StoreRequest, { op: "add" }>, "id">;

/** A connection to a {@link TCPStore}. */
export class StoreClient {
  readonly #socket: Socket;
  readonly #pending = new Map<
    number,
    { resolve(reply: StoreReply): void; reject(e: Error): void }
  >();
  #nextId = 1;
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      for (const reply of reader.push(chunk) as StoreReply[]) {
        const pending = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        pending?.resolve(reply);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = new StoreError("The connection to the store closed");
      for (const pending of this.#pending.values()) pending.reject(this.#closed);
      this.#pending.clear();
    });
  }

  /**
   * Connects, retrying while the store is not up yet: ranks start in any order, and the store's
   * host may come up last. Backs off from 10 ms to 500 ms between attempts.
   */
  static async connect(options: StoreClientOptions): Promise<StoreClient> {
    const deadline = Date.now() + options.timeout;
    let wait = 10;
    for (;;) {
      options.signal?.throwIfAborted();
      try {
        return new StoreClient(await open(options.host, options.port));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        const retryable =
          code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EHOSTUNREACH";
        if (!retryable || Date.now() + wait > deadline) {
          throw new StoreError(
            `Cannot reach the store at ${options.host}:${options.port}: ${(error as Error).message}`,
            { cause: error, details: { host: options.host, port: options.port } },
          );
        }
        await delay(wait, undefined, options.signal ? { signal: options.signal } : {});
        wait = Math.min(wait * 2, 500);
      }
    }
  }

  /** Sets `key` to `value`, waking every `get` waiting on it. */
  async set(key: string, value: string): Promise<void> {
    await this.#request({ op: "set", key, value });
  }

  /** Adds `amount` to the number stored at `key` (0 if unset) and returns the sum. */
  async add(key: string, amount: number): Promise<number> {
    return Number((await this.#request({ op: "add", key, amount })).value);
  }

  /** The value of `key`, waiting until some client sets it. */
  async get(key: string, signal?: AbortSignal): Promise<string> {
    const reply = await this.#request({ op: "get", key }, signal);
    return reply.value ?? "";
  }

  /** The local address of the connection: the interface that routes to the store's host. */
  get localAddress(): string {
    return this.#socket.localAddress ?? "127.0.0.1";
  }

  close(): void {
    this.#socket.destroy();
  }

  #request(body: RequestBody, signal?: AbortSignal): Promise<StoreReply> {
    if (this.#closed) return Promise.reject(this.#closed);
    signal?.throwIfAborted();
    const id = this.#nextId++;
    return new Promise<StoreReply>((resolve, reject) => {
      const onAbort = () => {
        this.#pending.delete(id);
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (reply) => {
          signal?.removeEventListener("abort", onAbort);
          if (reply.error !== undefined) reject(new StoreError(reply.error));
          else resolve(reply);
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      });
      this.#socket.write(encodeFrame({ id, ...body }));
    });
  }
}

function open(host: string, port: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (error) => {
      socket.destroy();
      reject(error);
    });
  });
}
