/**
 * `JSON.stringify` for values that crossed from a rank: bigints become strings when they do not
 * fit a double exactly, typed arrays become arrays, Maps objects and Sets arrays, so a result the
 * worker could send is always representable in a text event.
 *
 * Every streamed event goes through here, and a replacer takes JSON.stringify off V8's fast path
 * (it is called for every key), so a value made only of what JSON writes as it is (strings,
 * numbers, booleans, null, undefined, arrays and plain objects without `toJSON`, not too deep)
 * is written without one; anything else takes the replacer, with the same result either way.
 */
export function toJson(value: unknown): string {
  return (isPlain(value, 0) ? JSON.stringify(value) : JSON.stringify(value, replacer)) ?? "null";
}

/** Deeper than this, the replacer's path decides (and throws on a cycle as it always did). */
const PLAIN_DEPTH = 32;

/** `true` if JSON.stringify writes `value` as the replacer would. */
function isPlain(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null) return typeof value !== "bigint";
  if (depth >= PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isPlain(item, depth + 1)) return false;
    return Object.getPrototypeOf(value) === Array.prototype;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return false;
  for (const key in value) {
    if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify has already called Buffer's own toJSON(); read the original from its holder.
  const original = (this as Record<string, unknown> | undefined)?.[key];
  if (original !== value && ArrayBuffer.isView(original)) value = original;
  if (typeof value === "bigint") {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Map) return Object.fromEntries(value);
  if (value instanceof Set) return [...value];
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (v) =>
      typeof v === "bigint" ? replacer.call(undefined, "", v) : v,
    );
  }
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
