/**
 * The main file of every rank process. The runner starts it with torchrun's environment (RANK,
 * WORLD_SIZE, …) and a control channel on file descriptor 3; this file only wires that channel to
 * the rank's {@link RankSession}. When the channel closes (the runner is gone) the rank exits at
 * once, so a runner that dies leaves no orphans; a rank busy in a loop then is ended by the
 * parent-death signal the runner starts it with (runner/rank-process.ts).
 */
import { Socket } from "node:net";
import { encodeFrame } from "../ipc/control-frame.ts";
import { FrameDecoder } from "../ipc/frame-decoder.ts";
import { oneBufferReads } from "../ipc/one-buffer-reads.ts";
import { parseRunnerMessage } from "../ipc/parse-message.ts";
import { captureOutput } from "./capture-output.ts";
import { rankIdentityFromEnv } from "./rank-env.ts";
import { RankSession } from "./rank-session.ts";
import { ResultSink } from "./result-sink.ts";

const CHANNEL_FD = 3;
const EMPTY = new Uint8Array(0);

// setpriv sets the parent-death signal after the fork, so a runner that died before then sends
// none; its rank then has another parent already, and leaves before doing anything.
const runnerPid = process.env.TROUPE_RUNNER_PID;
if (runnerPid !== undefined && process.ppid !== Number(runnerPid)) process.exit(0);

const { rank } = rankIdentityFromEnv();
const decoder = new FrameDecoder();
// Read as the runner's end is (ipc/one-buffer-reads.ts); the decoder copies what it keeps.
const channel = new Socket({
  fd: CHANNEL_FD,
  readable: true,
  writable: true,
  onread: oneBufferReads(receive),
  // Node documents `onread` for `new Socket()`; @types/node has it for `connect()` alone.
} as ConstructorParameters<typeof Socket>[0]);
const session = new RankSession({
  rank,
  send: (message) => channel.write(encodeFrame(message)),
  // An empty write's callback runs once every write before it has reached the kernel.
  untilSent: () =>
    channel.writableLength === 0
      ? undefined
      : new Promise<void>((resolve) => channel.write(EMPTY, () => resolve())),
  // Exit only once the channel has drained: the runner gets the message sent just before.
  exitAfterFlush: (code) => channel.end(() => process.exit(code)),
  createSink: (config) =>
    new ResultSink({
      channel,
      fd: CHANNEL_FD,
      rank,
      highWaterMark: config.highWaterMark,
      maxPendingBytes: config.maxPendingBytes,
    }),
});

// What the rank prints also goes to the runner, on the channel: the running request's logs.
captureOutput((stream, text) => {
  if (!channel.destroyed) channel.write(encodeFrame({ t: "output", stream, text }));
});

function receive(chunk: Uint8Array): void {
  try {
    for (const message of decoder.push(chunk)) session.receive(parseRunnerMessage(message));
  } catch (error) {
    session.fatal(error);
  }
}

// The runner is gone (it exited, crashed or closed the channel): leave at once.
channel.on("end", () => process.exit(0));
channel.on("error", () => process.exit(0));
