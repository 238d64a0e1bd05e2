/**
 * The app's half of an image input: fal's `image_url`, a `data:` URL or an http(s) URL, turned
 * into an {@link Image} before the request reaches the ranks. Remote images are fetched with a
 * size limit and a timeout; whatever is wrong with an input — a bad URL, an answer that is not
 * 2xx, a body past the limit, a fetch that times out, bytes that are no image, an image with too
 * many pixels — is a 422 naming that input, so no rank ever sees it.
 */
import { ValidationError } from "../../src/app/index.ts";
import { Image, parseDataUrl } from "../../src/encoding/image.ts";

/** How far the app goes for one input image. */
export interface ImageLimits {
  /** Largest encoded image, in bytes (data: URLs are also bounded by the server's `bodyLimit`). */
  readonly maxBytes: number;
  /** How long fetching one http(s) image may take, in ms, headers and body together. */
  readonly timeoutMs: number;
  /** Most pixels (width × height) of one image. */
  readonly maxPixels: number;
  /** Whether http(s) URLs are fetched at all; `false` accepts only `data:` URLs. */
  readonly remote: boolean;
}

/** 20 MB, 10 s, 40 megapixels, remote URLs on. */
export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxBytes: 20 * 1024 * 1024,
  timeoutMs: 10_000,
  maxPixels: 40_000_000,
  remote: true,
};

/** A problem with one input, said about that input. */
class InputProblem extends Error {}

/**
 * Every input URL as an Image, in order. `inputs` pairs each URL with its path in the body
 * (`image_url`, `image_urls.2`); all are resolved at once, and every failure is reported in one
 * 422 listing each bad input.
 */
export async function resolveImages(
  inputs: readonly { readonly path: string; readonly url: string }[],
  limits: ImageLimits,
  signal?: AbortSignal,
): Promise<Image[]> {
  const settled = await Promise.allSettled(
    inputs.map(({ url }) => resolveImage(url, limits, signal)),
  );
  const issues = settled.flatMap((outcome, i) =>
    outcome.status === "fulfilled"
      ? []
      : [{ path: inputs[i]?.path ?? "", message: messageOf(outcome.reason), type: "value_error" }],
  );
  if (issues.length > 0) {
    signal?.throwIfAborted();
    throw new ValidationError(
      `The request's image inputs could not be used: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      issues,
    );
  }
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<Image>).value);
}

function messageOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

async function resolveImage(url: string, limits: ImageLimits, signal?: AbortSignal) {
  const bytes = await bytesOf(url, limits, signal);
  return await Image.fromBytes(bytes, { maxPixels: limits.maxPixels });
}

async function bytesOf(
  url: string,
  limits: ImageLimits,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (/^data:/i.test(url)) {
    const { bytes } = parseDataUrl(url);
    if (bytes.length > limits.maxBytes) throw tooLarge(limits);
    return bytes;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputProblem("Expected a data: URL or an http(s) URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InputProblem(`Expected a data: URL or an http(s) URL, got a ${parsed.protocol} URL`);
  }
  if (!limits.remote) {
    throw new InputProblem("This server accepts images as data: URLs only");
  }
  return await fetchBytes(parsed, limits, signal);
}

function tooLarge(limits: ImageLimits): InputProblem {
  return new InputProblem(`The image is larger than ${limits.maxBytes} bytes`);
}

/** GETs an image, reading at most `maxBytes` of it, within `timeoutMs`. */
async function fetchBytes(
  url: URL,
  limits: ImageLimits,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
  const where = `${url.protocol}//${url.host}`;
  try {
    const response = await fetch(url, { signal: both, redirect: "follow" });
    if (!response.ok) {
      await response.body?.cancel();
      throw new InputProblem(`Fetching the image from ${where} answered ${response.status}`);
    }
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (declared > limits.maxBytes) {
      await response.body?.cancel();
      throw tooLarge(limits);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body?.getReader();
    for (;;) {
      const next = await reader?.read();
      if (next === undefined || next.done) break;
      size += next.value.length;
      if (size > limits.maxBytes) {
        await reader?.cancel();
        throw tooLarge(limits);
      }
      chunks.push(next.value);
    }
    return Buffer.concat(chunks);
  } catch (error) {
    if (error instanceof InputProblem) throw error;
    if (timeout.aborted) {
      throw new InputProblem(
        `Fetching the image from ${where} took longer than ${limits.timeoutMs} ms`,
      );
    }
    signal?.throwIfAborted();
    throw new InputProblem(`The image could not be fetched from ${where}`);
  }
}
