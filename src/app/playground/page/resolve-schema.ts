import { isRecord } from "./is-record.ts";

/** The parts of a JSON Schema (as `z.toJSONSchema` writes it) that the form reads. */
export interface JsonSchema {
  readonly type?: unknown;
  readonly properties?: unknown;
  readonly required?: unknown;
  readonly enum?: unknown;
  readonly const?: unknown;
  readonly default?: unknown;
  readonly description?: unknown;
  readonly minimum?: unknown;
  readonly maximum?: unknown;
  readonly exclusiveMinimum?: unknown;
  readonly exclusiveMaximum?: unknown;
  readonly multipleOf?: unknown;
  readonly maxLength?: unknown;
  readonly anyOf?: unknown;
  readonly oneOf?: unknown;
  readonly allOf?: unknown;
  readonly $ref?: unknown;
  readonly [keyword: string]: unknown;
}

const MAX_DEPTH = 32;

/**
 * `schema` with what the form cannot show directly resolved away: local `$ref`s looked up in
 * `roots` (z.toJSONSchema puts `$defs` at the root of the input schema, OpenAPI tools put
 * `components` at the root of the document: both are tried), a nullable type or a union with
 * `null` reduced to the other branch, a union of literals turned into an `enum`, and a single
 * `allOf` merged in. Anything else is left as it is, for a JSON field.
 */
export function resolveSchema(schema: unknown, roots: readonly unknown[], depth = 0): JsonSchema {
  if (!isRecord(schema)) return {};
  if (depth > MAX_DEPTH) return schema;
  const { $ref, ...own } = schema;
  if (typeof $ref === "string" && $ref.startsWith("#")) {
    const target = lookUp($ref, roots);
    return resolveSchema({ ...(isRecord(target) ? target : {}), ...own }, roots, depth + 1);
  }
  const { anyOf, oneOf, ...rest } = schema;
  const branches = Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : undefined;
  if (branches !== undefined) {
    const nonNull = branches.filter((b) => !(isRecord(b) && b.type === "null"));
    const constants = nonNull.map((b) => {
      const one = resolveSchema(b, roots, depth + 1);
      return "const" in one ? [one.const] : Array.isArray(one.enum) ? one.enum : undefined;
    });
    if (nonNull.length > 1 && constants.every((c) => c !== undefined)) {
      // A union of literals (z.union([z.literal(1), z.literal(2)])) is a choice like an enum.
      return { ...rest, enum: constants.flat() };
    }
    if (nonNull.length === 1) {
      const only = resolveSchema(nonNull[0], roots, depth + 1);
      return resolveSchema({ ...only, ...rest }, roots, depth + 1);
    }
  }
  const { allOf, ...unmerged } = schema;
  if (Array.isArray(allOf) && allOf.length === 1) {
    const base = resolveSchema(allOf[0], roots, depth + 1);
    return resolveSchema({ ...base, ...unmerged }, roots, depth + 1);
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((t) => t !== "null");
    if (types.length === 1) return { ...schema, type: types[0] };
  }
  return schema;
}

/** The value at a `#/a/b` pointer in the first of `roots` that has one. */
function lookUp(ref: string, roots: readonly unknown[]): unknown {
  const parts = ref
    .slice(1)
    .split("/")
    .filter((part) => part !== "")
    .map((part) => decodeURIComponent(part).replace(/~1/g, "/").replace(/~0/g, "~"));
  for (const root of roots) {
    let target: unknown = root;
    for (const key of parts) {
      target =
        isRecord(target) || Array.isArray(target)
          ? (target as Record<string, unknown>)[key]
          : undefined;
      if (target === undefined) break;
    }
    if (target !== undefined) return target;
  }
  return undefined;
}

/** Which input shows a value of `schema`. */
export type FieldKind = "enum" | "boolean" | "number" | "string" | "json";

/** The choices of an enum-like schema (`enum`, or one `const`), or `undefined`. */
export function choicesOf(schema: JsonSchema): readonly unknown[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum;
  return "const" in schema ? [schema.const] : undefined;
}

/** The input for `schema`: a select for a choice of plain values, a JSON textarea for the rest. */
export function fieldKind(schema: JsonSchema): FieldKind {
  const choices = choicesOf(schema);
  if (
    choices !== undefined &&
    choices.length > 0 &&
    choices.every((c) => c === null || ["string", "number", "boolean"].includes(typeof c))
  ) {
    return "enum";
  }
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "string") return "string";
  return "json";
}
