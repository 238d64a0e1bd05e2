import type { ImageFormat } from "../encoding/image.ts";
import { InvalidArgumentError } from "../errors.ts";
import { assertSendable } from "../internal/sendable.ts";
import { encodeValue } from "../ipc/index.ts";
import { show } from "./options.ts";
import type { StreamOptions } from "./runner-stream.ts";

/** Options of `runner.start()`. */
export interface StartOptions<Setup = unknown> {
  /** Fail with START_TIMEOUT if not every rank is ready after this many ms. @default 1800000 */
  readonly timeout?: number;
  /** Passed to every rank's `setup()` (and again after each restart). */
  readonly setup?: Setup;
  /** Abandons the start (the ranks are stopped) when aborted. */
  readonly signal?: AbortSignal;
}

/** Options of `runner.invoke()`. */
export interface InvokeOptions {
  /** Fail with REQUEST_TIMEOUT (and cancel on every rank) after this many ms, queue wait included. */
  readonly timeout?: number;
  /** Cancels the request on every rank when aborted. */
  readonly signal?: AbortSignal;
  /** The id the worker sees as `ctx.requestId`. @default a random UUID */
  readonly requestId?: string;
  /**
   * Encoding of the images in the final result (JPEG at quality 95, PNG or WebP). Intermediate
   * results' images are JPEG at quality 60 unless the worker asks otherwise.
   * @default "jpeg"
   */
  readonly imageFormat?: ImageFormat;
}

/** Options of `runner.stop()`. */
export interface StopOptions {
  /** How long ranks get for `teardown()` before they are killed, in ms. @default 10000 */
  readonly timeout?: number;
}

/** Checks the options of `invoke()` or `stream()`, naming the first bad value. */
export function checkCallOptions(options: InvokeOptions | StreamOptions): void {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(`Expected options to be an object, got ${show(options)}`);
  }
  if (options.timeout !== undefined) positiveTimeout("timeout", options.timeout);
  if (options.requestId !== undefined && typeof options.requestId !== "string") {
    throw new InvalidArgumentError(
      `Expected \`requestId\` to be a string, got ${show(options.requestId)}`,
    );
  }
  const format = options.imageFormat;
  if (format !== undefined && format !== "jpeg" && format !== "png" && format !== "webp") {
    throw new InvalidArgumentError(
      `Expected \`imageFormat\` to be "jpeg", "png" or "webp", got ${show(format)}`,
    );
  }
  options.signal?.throwIfAborted();
  if ("streamingTimeout" in options && options.streamingTimeout !== undefined) {
    positiveTimeout("streamingTimeout", options.streamingTimeout);
  }
}

/** Throws unless `value` is a positive number of milliseconds. */
export function positiveTimeout(name: string, value: unknown): void {
  if (typeof value !== "number" || !(value > 0)) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be a positive number of milliseconds, got ${show(value)}`,
    );
  }
}

/** A call's payload, checked (INVALID_PAYLOAD names what cannot be sent) and encoded once for every rank. */
export function encodePayload(payload: unknown): Uint8Array {
  assertSendable(payload, "payload");
  return encodeValue(payload);
}
