import { isPayloadObject } from "../encoding/payload-brand.ts";
import { InvalidPayloadError } from "../errors.ts";

/**
 * Throws an {@link InvalidPayloadError} naming the first value in `value` that cannot cross a
 * process boundary: a function, a symbol, a cycle, an object troupe cannot rebuild (a class
 * instance other than the built-ins below), or data nested more than {@link MAX_SEND_DEPTH}
 * levels deep. `label` names the root in the message.
 *
 * `stop`, when given, sees each object before it is checked: where it returns `true` the check
 * ends and `assertSendable` returns `true`, and the caller checks `value` again once it has dealt
 * with that object (a rank encodes the images in a result, then checks the encoded copy). One walk
 * does both jobs, which counts on the path of every streamed result. Returns `false` when all of
 * `value` was checked.
 */
export function assertSendable(
  value: unknown,
  label: string,
  stop?: (object: object) => boolean,
): boolean {
  // The fast walk keeps no ancestors and builds no paths: it gives up past FAST_DEPTH, where a
  // cycle may be, and on the first bad value; the exact walk then finds and names it.
  const fast = walk(value, 0, stop);
  if (fast !== FAILED) return fast === STOPPED;
  const found = findUnsendable(value, label, new Set(), stop, 0);
  if (typeof found === "string") throw new InvalidPayloadError(found);
  return found === STOP;
}

/** Levels the fast walk goes down before it hands over to the exact one. */
const FAST_DEPTH = 64;
/**
 * The deepest nesting of objects, arrays, Maps and Sets that may cross a process boundary.
 * MessagePack's encoder and decoder and `JSON.stringify` recurse, and overflow the stack at about
 * 1,400 levels; past this limit a value is refused with a typed error before they see it.
 */
export const MAX_SEND_DEPTH = 512;
/** How much of a path a message about too deep a value shows. */
const SHOWN_PATH = 80;
const OK = 0;
const STOPPED = 1;
const FAILED = 2;

function walk(
  value: unknown,
  depth: number,
  stop: ((object: object) => boolean) | undefined,
): number {
  if (typeof value !== "object") {
    return typeof value === "function" || typeof value === "symbol" ? FAILED : OK;
  }
  if (value === null) return OK;
  if (stop?.(value)) return STOPPED;
  // Plain objects and arrays first: nearly every result is made of them.
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    if (depth === FAST_DEPTH) return FAILED;
    for (const key in value) {
      const found = walk((value as Record<string, unknown>)[key], depth + 1, stop);
      if (found !== OK) return found;
    }
    return OK;
  }
  if (Array.isArray(value)) {
    if (depth === FAST_DEPTH) return FAILED;
    for (let i = 0; i < value.length; i++) {
      const found = walk(value[i], depth + 1, stop);
      if (found !== OK) return found;
    }
    return OK;
  }
  if (isLeafObject(value)) return OK;
  if (value instanceof Map) {
    if (depth === FAST_DEPTH) return FAILED;
    for (const [key, entry] of value) {
      if (typeof key !== "string" && typeof key !== "number") return FAILED;
      const found = walk(entry, depth + 1, stop);
      if (found !== OK) return found;
    }
    return OK;
  }
  if (value instanceof Set) {
    if (depth === FAST_DEPTH) return FAILED;
    for (const entry of value) {
      const found = walk(entry, depth + 1, stop);
      if (found !== OK) return found;
    }
    return OK;
  }
  return FAILED;
}

/** Objects sent whole, without looking inside: bytes, dates, and the classes troupe rebuilds. */
function isLeafObject(value: object): boolean {
  return (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Error ||
    isPayloadObject(value)
  );
}

/** What the exact walk returns where `stop` claimed an object. */
const STOP: unique symbol = Symbol("stop");

function findUnsendable(
  value: unknown,
  path: string,
  ancestors: Set<object>,
  stop: ((object: object) => boolean) | undefined,
  depth: number,
): string | typeof STOP | undefined {
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
  if (stop?.(value)) return STOP;
  if (isLeafObject(value)) return undefined;
  if (ancestors.has(value)) {
    return `Expected \`${path}\` to be data that can be sent to another process, got a reference cycle`;
  }
  if (depth === MAX_SEND_DEPTH) {
    const shown = path.length > SHOWN_PATH ? `${path.slice(0, SHOWN_PATH)}…` : path;
    return `Expected \`${shown}\` to nest at most ${MAX_SEND_DEPTH} levels of objects and arrays to be sent to another process, got a deeper value`;
  }
  const inner = depth + 1;
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const found = findUnsendable(value[i], `${path}[${i}]`, ancestors, stop, inner);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Map) {
      for (const [key, entry] of value) {
        if (typeof key !== "string" && typeof key !== "number") {
          return `Expected the keys of Map \`${path}\` to be strings or numbers (a Map arrives as a plain object), got ${typeof key === "object" ? "an object" : typeof key}`;
        }
        const found = findUnsendable(entry, `${path}.get(${String(key)})`, ancestors, stop, inner);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const entry of value) {
        const found = findUnsendable(entry, `${path}.<set item ${i++}>`, ancestors, stop, inner);
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
        stop,
        inner,
      );
      if (found !== undefined) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(value);
  }
}
