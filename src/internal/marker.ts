/**
 * Recognition across copies of the package. `instanceof` fails when a value was made by another
 * copy of troupe (an app importing troupe's sources, served by the compiled `troupe run`), so each
 * class that must be recognised carries a registered symbol and a static `isInstance` that looks
 * for it, as vercel/ai's error classes do.
 *
 * @example
 * ```ts
 * const MARKER = Symbol.for("troupe.Thing");
 * class Thing {
 *   readonly [MARKER] = true;
 *   static isInstance(value: unknown): value is Thing { return hasMarker(value, MARKER); }
 * }
 * ```
 */
export function hasMarker(value: unknown, marker: symbol): boolean {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    (value as Record<symbol, unknown>)[marker] === true
  );
}
