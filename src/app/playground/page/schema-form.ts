import { el } from "./el.ts";
import { isRecord } from "./is-record.ts";
import {
  choicesOf,
  type FieldKind,
  fieldKind,
  type JsonSchema,
  resolveSchema,
} from "./resolve-schema.ts";

/** A built form: `read()` gives the request body or throws an `Error` naming the bad field. */
export interface SchemaForm {
  read(): unknown;
}

/** One field's value, or that it is left out of the body. */
type FieldValue = { readonly present: false } | { readonly present: true; readonly value: unknown };

interface Field {
  read(): FieldValue;
}

const ABSENT: FieldValue = { present: false };

/**
 * Fills `container` with one input per property of an endpoint's input schema, and a JSON
 * textarea for anything a single input cannot hold. `doc` is the OpenAPI document, where local
 * `$ref`s not found in the schema itself are looked up.
 */
export function buildForm(container: HTMLElement, schema: unknown, doc: unknown): SchemaForm {
  container.textContent = "";
  const roots = [schema ?? {}, doc];
  const resolved = resolveSchema(schema, roots);
  const objectLike =
    resolved.type === "object" || (resolved.type === undefined && resolved.properties);
  if (!objectLike || !isRecord(resolved.properties)) {
    // A body that is not an object with named properties is edited as one JSON value.
    const whole = addField(container, "body", resolved, true, "json");
    return {
      read: () => {
        const value = whole.read();
        return value.present ? value.value : null;
      },
    };
  }
  const required = Array.isArray(resolved.required) ? resolved.required : [];
  const fields = Object.entries(resolved.properties).map(([name, property]) => ({
    name,
    field: addField(container, name, resolveSchema(property, roots), required.includes(name)),
  }));
  return {
    read: () => {
      const body: Record<string, unknown> = {};
      for (const { name, field } of fields) {
        const value = field.read();
        if (value.present) body[name] = value.value;
      }
      return body;
    },
  };
}

function addField(
  container: HTMLElement,
  name: string,
  schema: JsonSchema,
  required: boolean,
  forceKind?: FieldKind,
): Field {
  const kind = forceKind ?? fieldKind(schema);
  const id = `field-${name}`;
  const row = el("div", { class: `field field-${kind}` });
  row.appendChild(el("label", { for: id }, `${name}${required ? " *" : ""}`));
  const { input, read } = makeInput(kind, { id, name }, schema, required);
  input.setAttribute("data-testid", id);
  row.appendChild(input);
  const hint = [schema.description, kind === "json" ? "JSON" : undefined]
    .filter(Boolean)
    .join(" · ");
  if (hint) row.appendChild(el("small", { class: "hint" }, hint));
  container.appendChild(row);
  return { read };
}

function makeInput(
  kind: FieldKind,
  attributes: { readonly id: string; readonly name: string },
  schema: JsonSchema,
  required: boolean,
): { input: HTMLElement; read(): FieldValue } {
  const { name } = attributes;
  const hasDefault = "default" in schema;
  switch (kind) {
    case "enum": {
      const choices = choicesOf(schema) ?? [];
      const input = el("select", attributes);
      if (!required && !hasDefault) input.appendChild(el("option", { value: "" }, "(not set)"));
      choices.forEach((choice, i) => {
        const option = el("option", { value: String(i) }, String(choice));
        if (hasDefault && choice === schema.default) option.selected = true;
        input.appendChild(option);
      });
      return {
        input,
        read: () =>
          input.value === "" ? ABSENT : { present: true, value: choices[Number(input.value)] },
      };
    }
    case "boolean": {
      const input = el("input", { ...attributes, type: "checkbox" });
      input.checked = schema.default === true;
      return { input, read: () => ({ present: true, value: input.checked }) };
    }
    case "number": {
      const input = el("input", { ...attributes, type: "number", inputmode: "decimal" });
      // An exclusive bound of an integer is the next integer in; of a number, the bound itself.
      const inward = schema.type === "integer" ? 1 : 0;
      const min = bound(schema.minimum, schema.exclusiveMinimum, inward);
      const max = bound(schema.maximum, schema.exclusiveMaximum, -inward);
      if (min !== undefined) input.min = String(min);
      if (max !== undefined) input.max = String(max);
      input.step =
        typeof schema.multipleOf === "number"
          ? String(schema.multipleOf)
          : schema.type === "integer"
            ? "1"
            : "any";
      if (typeof schema.default === "number") input.value = String(schema.default);
      return {
        input,
        read: () => {
          if (input.value.trim() === "") return ABSENT;
          const n = Number(input.value);
          if (!Number.isFinite(n)) {
            throw new Error(`${name}: expected a number, got ${JSON.stringify(input.value)}`);
          }
          return { present: true, value: n };
        },
      };
    }
    case "string": {
      const input = el("input", { ...attributes, type: "text", autocomplete: "off" });
      if (typeof schema.maxLength === "number") input.maxLength = schema.maxLength;
      if (typeof schema.default === "string") input.value = schema.default;
      // Left empty, an optional string is left out (the server fills its default, if any) unless
      // the default is text the user cleared on purpose.
      const textDefault = typeof schema.default === "string" && schema.default !== "";
      return {
        input,
        read: () =>
          input.value === "" && !required && !textDefault
            ? ABSENT
            : { present: true, value: input.value },
      };
    }
    case "json": {
      const input = el("textarea", { ...attributes, rows: "4", spellcheck: "false" });
      if (hasDefault) input.value = JSON.stringify(schema.default, null, 2);
      else if (required && schema.type === "array") input.value = "[]";
      else if (required && schema.type === "object") input.value = "{}";
      return {
        input,
        read: () => {
          if (input.value.trim() === "") return ABSENT;
          try {
            return { present: true, value: JSON.parse(input.value) };
          } catch (error) {
            throw new Error(`${name}: not valid JSON (${(error as Error).message})`);
          }
        },
      };
    }
  }
}

/** An input's bound: the inclusive one, else the exclusive one moved `inward`; safe integers only. */
function bound(inclusive: unknown, exclusive: unknown, inward: number): number | undefined {
  const value =
    typeof inclusive === "number"
      ? inclusive
      : typeof exclusive === "number"
        ? exclusive + inward
        : undefined;
  return value !== undefined && Number.isSafeInteger(Math.trunc(value)) ? value : undefined;
}
