/**
 * `JSON.stringify` for values that crossed from a rank: bigints become strings when they do not
 * fit a double exactly, typed arrays become arrays, Maps objects and Sets arrays, so a result the
 * worker could send is always representable in a text event.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer) ?? "null";
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
