import { createServer, type Server, type Socket } from "node:net";
import { InvalidArgumentError } from "../../errors.ts";
import { StoreError } from "../errors.ts";
import { encodeFrame, FrameReader } from "./frame-reader.ts";

/** Options of {@link TCPStore.listen}. */
export interface TCPStoreOptions {
  /**
   * Address to listen on.
   * @default "0.0.0.0"
   */
  readonly host?: string;
  /**
   * Port to listen on; 0 picks a free one (read it back from {@link TCPStore.port}).
   * @default 0
   */
  readonly port?: number;
}

/** A request a client sends; every reply carries its `id`. */
export type StoreRequest =
  | { readonly id: number; readonly op: "set"; readonly key: string; readonly value: string }
  | { readonly id: number; readonly op: "get"; readonly key: string }
  | { readonly id: number; readonly op: "add"; readonly key: string; readonly amount: number };

export interface StoreReply {
  readonly id: number;
  readonly value?: string;
  readonly error?: string;
}

/**
 * The rendezvous key-value store of a process group, like torch's TCPStore: ranks publish their
 * addresses and read each other's. `get` waits until the key is set. Rank 0 hosts it on
 * `MASTER_PORT` by default; a launcher can host it instead and start every rank with
 * `isStoreHost: false`.
 *
 * @example
 * await using store = await TCPStore.listen({ port: 29500 });
 */
export class TCPStore implements AsyncDisposable {
  readonly #server: Server;
  readonly #values = new Map<string, string>();
  readonly #waiters = new Map<string, Array<(value: string) => void>>();
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.#server = server;
    server.on("connection", (socket) => this.#accept(socket));
  }

  /** Starts a store listening on `host:port`. */
  static async listen(options: TCPStoreOptions = {}): Promise<TCPStore> {
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`Expected \`port\` to be an integer in 0..65535, got ${port}`);
    }
    const host = options.host ?? "0.0.0.0";
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error) =>
        reject(
          new StoreError(`Cannot listen on ${host}:${port}: ${error.message}`, { cause: error }),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    return new TCPStore(server);
  }

  /** The port the store listens on. */
  get port(): number {
    const address = this.#server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  /** Stops listening and drops every client connection. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    const reader = new FrameReader();
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      let requests: unknown[];
      try {
        requests = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const request of requests) this.#handle(socket, request as StoreRequest);
    });
  }

  #handle(socket: Socket, request: StoreRequest): void {
    const reply = (body: Omit<StoreReply, "id">) => {
      if (!socket.destroyed) socket.write(encodeFrame({ id: request.id, ...body }));
    };
    switch (request.op) {
      case "set":
        this.#set(request.key, request.value);
        reply({});
        return;
      case "add": {
        const next = Number(this.#values.get(request.key) ?? "0") + request.amount;
        this.#set(request.key, String(next));
        reply({ value: String(next) });
        return;
      }
      case "get": {
        const value = this.#values.get(request.key);
        if (value !== undefined) {
          reply({ value });
          return;
        }
        const waiters = this.#waiters.get(request.key) ?? [];
        waiters.push((found) => reply({ value: found }));
        this.#waiters.set(request.key, waiters);
        return;
      }
      default:
        reply({
          error: `Unknown store operation ${JSON.stringify((request as { op: unknown }).op)}`,
        });
    }
  }

  #set(key: string, value: string): void {
    this.#values.set(key, value);
    const waiters = this.#waiters.get(key);
    if (waiters === undefined) return;
    this.#waiters.delete(key);
    for (const waiter of waiters) waiter(value);
  }
}
