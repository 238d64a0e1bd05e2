import type { ImageFormat } from "../encoding/image.ts";
/**
 * Every message between the runner and a rank, as one typed union per direction. Each message
 * about a request carries that request's `id`; the runner rejects any message whose id is not
 * the request it is running (see `runner/scheduler.ts`).
 *
 * A request starts in one phase on one rank and in two on several: the runner sends `call`
 * (`held` on several ranks), every rank acknowledges it with `started`; a held call waits, its
 * `call()` not run, until the runner has heard every rank's `started` and sends `go`. So a request
 * whose group died before `go` was sent ran on no rank, and the runner re-queues it.
 */
import type { SerializedError } from "../errors.ts";

/** Options a rank needs before it loads the worker module. */
export interface RankConfig {
  /** Forward results added on ranks other than 0 (tagged with their rank) instead of dropping them. */
  readonly streamAllRanks: boolean;
  /** Encoded bytes of unsent results a rank may hold before `addStreamingResult` throws. */
  readonly maxPendingBytes: number;
  /** Unsent results above which `addStreamingResult`'s promise waits for room. */
  readonly highWaterMark: number;
  /** Default timeout of every collective of `this.dist`, in ms. */
  readonly collectiveTimeout: number;
}

/** Runner -> rank. */
export type RunnerMessage =
  | {
      readonly t: "init";
      /** The worker module, as a file URL. */
      readonly worker: string;
      readonly setup: unknown;
      readonly config: RankConfig;
    }
  | {
      readonly t: "call";
      readonly id: number;
      readonly requestId: string;
      /** The encoded payload (encoded once, sent to every rank). */
      readonly payload: Uint8Array;
      readonly streaming: boolean;
      /** Format of the images in the final result. */
      readonly imageFormat: ImageFormat;
      /**
       * Acknowledge it and wait for `go` before running `call()` (several ranks); `false`: run it
       * once the acknowledgement has left the process (one rank).
       */
      readonly held: boolean;
    }
  /** Every rank acknowledged held call `id`: run `call()` now. Sent once per held call, never after a cancel. */
  | { readonly t: "go"; readonly id: number }
  /** Abandon call `id`; a held call that had no `go` yet ends as aborted without running `call()`. */
  | { readonly t: "cancel"; readonly id: number; readonly reason: SerializedError }
  | { readonly t: "stop" };

/** Rank -> runner. */
export type RankMessage =
  /** Setup finished; the rank takes calls. */
  | { readonly t: "ready" }
  /** Loading the module or `setup()` failed; the rank exits after sending this. */
  | { readonly t: "setupFailed"; readonly error: SerializedError }
  /**
   * The rank took request `id`; sent before anything else about it. A held call's `call()` runs
   * once `go` comes; an unheld one's as soon as this has left the process. Until `go` was sent
   * (held), or until the rank said this (unheld), no rank ran the request, so a group that dies
   * re-queues it.
   */
  | { readonly t: "started"; readonly id: number }
  /** Streamed results of request `id`, oldest first, each encoded on its own. */
  | {
      readonly t: "results";
      readonly id: number;
      readonly items: readonly Uint8Array[];
      /** Per item: its latest-wins key, or null. Absent when no item has one. */
      readonly keys?: readonly (string | null)[];
    }
  /** A non-fatal error the worker streamed with `addStreamingError`. */
  | { readonly t: "streamError"; readonly id: number; readonly error: SerializedError }
  /** `call()` returned; `output` is the encoded return value. Sent after every result of `id`. */
  | { readonly t: "done"; readonly id: number; readonly output: Uint8Array }
  /** `call()` threw, or was abandoned after a cancel (`aborted`). */
  | {
      readonly t: "failed";
      readonly id: number;
      readonly error: SerializedError;
      readonly aborted: boolean;
    }
  | { readonly t: "log"; readonly level: LogLevel; readonly msg: string }
  /**
   * Text the rank wrote to its stdout or stderr (passed on there too): on the channel, so that
   * what a request's call printed arrives before its `done` and is that request's log.
   */
  | { readonly t: "output"; readonly stream: "stdout" | "stderr"; readonly text: string }
  /** Teardown finished; the rank exits after sending this. */
  | { readonly t: "stopped" };

export type LogLevel = "debug" | "info" | "warn" | "error";
