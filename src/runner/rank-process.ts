import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { encodeFrame, FrameDecoder, parseRankMessage } from "../ipc/index.ts";
import type { RankMessage, RunnerMessage } from "../ipc/messages.ts";
import type { RankChannel } from "./channel.ts";

/** Debian's `setpriv` (util-linux) sets PR_SET_PDEATHSIG, so a rank dies with the runner even when its event loop is busy. */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => existsSync(path));

/** How long an exited rank's channel may stay open (held by a grandchild) before the exit is reported. */
const CHANNEL_DRAIN_MS = 250;

export interface RankProcessOptions {
  readonly rank: number;
  readonly nodeArgs: readonly string[];
  readonly entry: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The control channel; its far end becomes the process's fd 3. */
  readonly channel: RankChannel;
  readonly onMessage: (message: RankMessage) => void;
  readonly onProtocolError: (error: unknown) => void;
}

export interface RankExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One rank's process and its control channel (a connected Unix socket on the child's fd 3). */
export class RankProcess {
  readonly rank: number;
  readonly pid: number | undefined;
  /** Resolves when the process has exited (and its channel is closed). */
  readonly exited: Promise<RankExit>;
  exit: RankExit | undefined;

  private readonly child: ChildProcess;
  private readonly channel: RankChannel["socket"];
  private readonly decoder = new FrameDecoder();
  private paused = false;

  constructor(options: RankProcessOptions) {
    this.rank = options.rank;
    const args = [...options.nodeArgs, options.entry];
    const [command, commandArgs] =
      SETPRIV === undefined
        ? [process.execPath, args]
        : [SETPRIV, ["--pdeathsig", "KILL", "--", process.execPath, ...args]];
    const { channel } = options;
    channel.onChunk = (chunk) => {
      let messages: unknown[];
      try {
        messages = this.decoder.push(chunk);
      } catch (error) {
        options.onProtocolError(error);
        return;
      }
      for (let i = 0; i < messages.length; i++) {
        let message: RankMessage;
        try {
          message = parseRankMessage(messages[i]);
        } catch (error) {
          options.onProtocolError(error);
          continue;
        }
        options.onMessage(message);
      }
    };
    try {
      this.child = spawn(command, commandArgs, {
        cwd: options.cwd,
        env: options.env,
        stdio: ["ignore", "inherit", "inherit", channel.remote],
      });
    } catch (error) {
      channel.socket.destroy();
      throw error;
    } finally {
      // The child holds its own copy now; the channel reaches end-of-file once the child's is closed.
      channel.remote.destroy();
    }
    this.pid = this.child.pid;
    this.channel = channel.socket;
    this.channel.on("end", () => this.channel.destroy());
    this.exited = new Promise((resolve) => {
      // Report the exit only once the channel is drained, so that a message the rank sent just
      // before exiting (why setup failed, say) is handled before its exit. A grandchild that
      // inherited the channel could keep it open; then give up on it after a short while.
      let status: RankExit | undefined;
      let channelClosed = false;
      const settle = (): void => {
        if (status === undefined || this.exit !== undefined) return;
        this.exit = status;
        resolve(status);
      };
      this.child.once("exit", (code, signal) => {
        status = { code, signal };
        if (channelClosed) settle();
        else setTimeout(settle, CHANNEL_DRAIN_MS).unref();
      });
      // A spawn failure (ENOENT, EAGAIN) emits "error" and never "exit".
      this.child.once("error", () => {
        status ??= { code: null, signal: null };
        settle();
      });
      this.channel.once("close", () => {
        channelClosed = true;
        settle();
      });
    });
    // Errors on the channel surface as the process's exit; nothing else to do with them.
    this.channel.on("error", () => {});
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  send(message: RunnerMessage): void {
    this.sendFrame(encodeFrame(message));
  }

  /** Sends a frame from `encodeFrame`: one encode for a message every rank gets. */
  sendFrame(frame: Uint8Array): void {
    if (this.exit !== undefined || this.channel.destroyed) return;
    this.channel.write(frame);
  }

  /** Stops reading this rank's results: the rank's writes back up, so it waits (backpressure). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.channel.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.channel.resume();
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.exit === undefined) this.child.kill(signal);
  }
}
