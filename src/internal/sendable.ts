import { isPayloadObject } from "../encoding/payload-brand.ts";
import { InvalidPayloadError } from "../errors.ts";

/**
 * Throws an {@link InvalidPayloadError} naming the first value in `value` that cannot cross a
 * process boundary: a function, a symbol, a cycle, or an object troupe cannot rebuild (a class
 * instance other than the built-ins below). `label` names the root in the message.
 */
export function assertSendable(value: unknown, label: string): void {
  // The fast walk builds no paths; only a value that fails it is walked again to name the spot.
  if (isSendable(value, undefined)) return;
  const problem = findUnsendable(value, label, new Set());
  if (problem !== undefined) throw new InvalidPayloadError(problem);
}

function isSendable(value: unknown, ancestors: Set<object> | undefined): boolean {
  if (typeof value === "function" || typeof value === "symbol") return false;
  if (typeof value !== "object" || value === null) return true;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date)
    return true;
  if (isPayloadObject(value)) return true;
  if (value instanceof RegExp || value instanceof Error) return true;
  const seen = ancestors ?? new Set<object>();
  if (seen.has(value)) return false;
  seen.add(value);
  let ok = true;
  if (Array.isArray(value)) {
    for (let i = 0; ok && i < value.length; i++) ok = isSendable(value[i], seen);
  } else if (value instanceof Map) {
    for (const [key, entry] of value) {
      if ((typeof key !== "string" && typeof key !== "number") || !isSendable(entry, seen)) {
        ok = false;
        break;
      }
    }
  } else if (value instanceof Set) {
    for (const entry of value) {
      if (!isSendable(entry, seen)) {
        ok = false;
        break;
      }
    }
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) ok = false;
    else {
      for (const key in value) {
        if (!isSendable((value as Record<string, unknown>)[key], seen)) {
          ok = false;
          break;
        }
      }
    }
  }
  seen.delete(value);
  return ok;
}

function findUnsendable(value: unknown, path: string, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case "function":
      return `Expected \`${path}\` to be data that can be sent to another process, got a function`;
    case "symbol":
      return `Expected \`${path}\` to be data that can be sent to another process, got a symbol`;
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return undefined;
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Date ||
    isPayloadObject(value)
  ) {
    return undefined;
  }
  if (value instanceof RegExp || value instanceof Error) return undefined;
  if (ancestors.has(value)) {
    return `Expected \`${path}\` to be data that can be sent to another process, got a reference cycle`;
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = findUnsendable(value[i], `${path}[${i}]`, ancestors);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Map) {
      for (const [key, entry] of value) {
        if (typeof key !== "string" && typeof key !== "number") {
          return `Expected the keys of Map \`${path}\` to be strings or numbers (a Map arrives as a plain object), got ${typeof key === "object" ? "an object" : typeof key}`;
        }
        const found = findUnsendable(entry, `${path}.get(${String(key)})`, ancestors);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const entry of value) {
        const found = findUnsendable(entry, `${path}.<set item ${i++}>`, ancestors);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return `Expected \`${path}\` to be plain data that can be sent to another process, got an instance of ${typeof name === "string" && name !== "" ? name : "an anonymous class"}`;
    }
    for (const key of Object.keys(value)) {
      const found = findUnsendable(
        (value as Record<string, unknown>)[key],
        `${path}.${key}`,
        ancestors,
      );
      if (found !== undefined) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}
