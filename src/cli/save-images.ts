import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const DATA_URL = /^data:(image\/[\w.+-]+)((?:;[\w-]+=[^;,]*)*)(;base64)?,(.*)$/s;

/** An image the CLI wrote. */
export interface SavedImage {
  readonly path: string;
  /** Where it was in the event: `images-0`, `preview`. */
  readonly at: string;
}

/**
 * Writes every image in `value` to `dir` as `event-<n>-<where>.<ext>`: fal's image objects
 * (`{content_type: "image/...", url: "data:image/...;base64,..."}`) and bare image data URLs,
 * at any depth. Returns `value` with each data URL replaced by its file's path, so printing it
 * does not flood the terminal with base64.
 */
export async function saveImages(
  value: unknown,
  n: number,
  dir: string,
): Promise<{ readonly value: unknown; readonly saved: readonly SavedImage[] }> {
  const saved: SavedImage[] = [];
  const walk = async (node: unknown, at: readonly string[]): Promise<unknown> => {
    if (typeof node === "string") {
      const image = DATA_URL.exec(node);
      return image === null ? node : await save(image, at);
    }
    if (Array.isArray(node)) {
      return await Promise.all(node.map((item, i) => walk(item, [...at, String(i)])));
    }
    if (node !== null && typeof node === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) {
        // A fal image object is named after where it is, not after its `url` field.
        const where = key === "url" && "content_type" in node ? at : [...at, key];
        out[key] = await walk(item, where);
      }
      return out;
    }
    return node;
  };
  const save = async (image: RegExpExecArray, at: readonly string[]): Promise<string> => {
    const [, type = "image/png", , base64, payload = ""] = image;
    const bytes = base64
      ? Buffer.from(payload, "base64")
      : Buffer.from(decodeURIComponent(payload), "utf8");
    const where = at.map((part) => part.replace(/[^\w.-]+/g, "_")).join("-") || "image";
    const path = join(dir, `event-${n}-${where}.${extension(type)}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path, bytes);
    saved.push({ path, at: where });
    return path;
  };
  return { value: await walk(value, []), saved };
}

function extension(type: string): string {
  const subtype = type.slice("image/".length).toLowerCase();
  if (subtype === "jpeg") return "jpg";
  if (subtype === "svg+xml") return "svg";
  return subtype.replace(/[^\w]+/g, "_");
}
