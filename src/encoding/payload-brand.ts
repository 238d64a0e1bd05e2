/**
 * Marks the classes (Image, Tensor) that may travel inside results although they are class
 * instances: the process boundary rebuilds them. A registered symbol, so copies of troupe agree.
 */
export const PAYLOAD_BRAND: unique symbol = Symbol.for("troupe.payload");

/** `true` for an instance of a class marked with {@link PAYLOAD_BRAND}. */
export function isPayloadObject(value: object): boolean {
  return (
    (value.constructor as unknown as Record<symbol, unknown> | undefined)?.[PAYLOAD_BRAND] === true
  );
}
