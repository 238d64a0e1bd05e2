import type { ImageFormat } from "../encoding/image.ts";
/**
 * Every message between the runner and a rank, as one typed union per direction. Each message
 * about a request carries that request's `id`; the runner rejects any message whose id is not
 * the request it is running (see `runner/rank-process.ts`).
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
    }
  | { readonly t: "cancel"; readonly id: number; readonly reason: SerializedError }
  | { readonly t: "stop" };

/** Rank -> runner. */
export type RankMessage =
  /** Setup finished; the rank takes calls. */
  | { readonly t: "ready" }
  /** Loading the module or `setup()` failed; the rank exits after sending this. */
  | { readonly t: "setupFailed"; readonly error: SerializedError }
  /**
   * The rank took request `id` and is about to run `call()`; sent before anything else about it.
   * Until a rank has said this, no rank ran the request, so a group that dies may re-queue it.
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
  /** Teardown finished; the rank exits after sending this. */
  | { readonly t: "stopped" };

export type LogLevel = "debug" | "info" | "warn" | "error";
