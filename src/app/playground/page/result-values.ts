/**
 * What the playground reads out of a result: the images in it (fal's
 * `{ content_type: "image/…", url }` objects and bare `data:image/…` strings), its progress, the
 * result inside a `{ rank, result }` envelope, and a copy fit for display with data URLs cut short.
 */
import { isRecord } from "./is-record.ts";

/** An image found in a result; `url` is as the result gave it, not yet checked. */
export interface FoundImage {
  readonly url: string;
  readonly width?: number;
  readonly height?: number;
}

const MAX_IMAGES = 16;
const MAX_DEPTH = 8;

/** The images in `value`, depth first, at most 16, looking no deeper than 8 levels. */
export function findImages(value: unknown): FoundImage[] {
  const out: FoundImage[] = [];
  collect(value, out, 0);
  return out;
}

function collect(value: unknown, out: FoundImage[], depth: number): void {
  if (out.length >= MAX_IMAGES || depth > MAX_DEPTH || value === null) return;
  if (typeof value === "string") {
    if (value.startsWith("data:image/")) out.push({ url: value });
    return;
  }
  if (typeof value !== "object") return;
  if (isRecord(value) && isImageFile(value)) {
    out.push({
      url: value.url,
      ...(typeof value.width === "number" ? { width: value.width } : {}),
      ...(typeof value.height === "number" ? { height: value.height } : {}),
    });
    return;
  }
  const items = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) {
    if (out.length >= MAX_IMAGES) return;
    collect(item, out, depth + 1);
  }
}

function isImageFile(
  value: Record<string, unknown>,
): value is { content_type: string; url: string; width?: unknown; height?: unknown } {
  return (
    typeof value.content_type === "string" &&
    value.content_type.startsWith("image/") &&
    typeof value.url === "string"
  );
}

/** A fraction in [0, 1] from `progress`, else from `step / steps`; `null` when neither is there. */
export function progressOf(value: unknown): number | null {
  if (!isRecord(value)) return null;
  const { progress, step, steps } = value;
  if (typeof progress === "number" && Number.isFinite(progress)) return clamp(progress);
  if (typeof step === "number" && typeof steps === "number" && steps > 0)
    return clamp(step / steps);
  return null;
}

function clamp(fraction: number): number {
  return Math.min(1, Math.max(0, fraction));
}

/** The result itself, or the result inside a `{ rank, result }` envelope (streamAllRanks). */
export function unwrapRank(value: unknown): unknown {
  if (
    isRecord(value) &&
    typeof value.rank === "number" &&
    "result" in value &&
    Object.keys(value).length === 2
  ) {
    return value.result;
  }
  return value;
}

/** `JSON.stringify(value, null, space)` with data URLs past 120 characters cut to 48 and a count. */
export function displayJson(value: unknown, space?: number): string | undefined {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === "string" && v.length > 120 && v.startsWith("data:")) {
        return `${v.slice(0, 48)}… (${v.length} characters)`;
      }
      return v;
    },
    space,
  );
}
