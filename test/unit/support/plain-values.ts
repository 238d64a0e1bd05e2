/** Plain values at every MessagePack boundary, for the plain encoder and decoder tests. */

export const NUMBERS = [
  0,
  1,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0xffffffff,
  0x100000000,
  2 ** 53,
  -1,
  -0x20,
  -0x21,
  -0x80,
  -0x81,
  -0x8000,
  -0x8001,
  -(2 ** 31),
  -(2 ** 31) - 1,
  1.5,
  -2.25,
  1e-300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
];

export const STRINGS = [
  "",
  "a",
  "x".repeat(31),
  "x".repeat(32),
  "x".repeat(63),
  "x".repeat(64),
  "x".repeat(255),
  "x".repeat(256),
  "é".repeat(20), // 20 units, 40 bytes: the header grows past the guess
  "€".repeat(85), // 85 units, 255 bytes
  "€".repeat(86), // 258 bytes
  "字".repeat(21_846), // 65,538 bytes: a str 32
  "x".repeat(70_000),
  "emoji 😀 and 🎉 pairs",
  "😀".repeat(40),
  "lone \ud800 high",
  `${"a".repeat(70)}\udc00 lone low, long`,
  "\u0000 nul \u007f del \u0080 \u07ff \u0800 \uffff",
];

/** The strings above that are well-formed UTF-16 (no lone surrogate). */
export const WELL_FORMED = STRINGS.filter(
  (s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s),
);

/** A random plain value: nested objects and arrays of the scalars above. */
export function randomPlain(
  random: () => number,
  depth: number,
  strings: readonly string[] = STRINGS,
): unknown {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const kind = depth > 3 ? Math.floor(random() * 5) : Math.floor(random() * 7);
  switch (kind) {
    case 0:
      return pick(NUMBERS);
    case 1:
      return pick(strings.filter((s) => s.length < 300));
    case 2:
      return pick([true, false, null, undefined]);
    case 3:
      return Math.floor((random() - 0.5) * 2 ** (random() * 40));
    case 4:
      return (random() - 0.5) * 1e6;
    case 5:
      return Array.from({ length: Math.floor(random() * 20) }, () =>
        randomPlain(random, depth + 1, strings),
      );
    default: {
      const object: Record<string, unknown> = {};
      const keys = Math.floor(random() * 20);
      for (let i = 0; i < keys; i++)
        object[pick(["k", "step", "ключ", "😀", ""]) + i] = randomPlain(random, depth + 1, strings);
      return object;
    }
  }
}
