/**
 * The playground page's form generator, as browser JavaScript source: one input per property of
 * an endpoint's JSON Schema (as `z.toJSONSchema` writes it), and a JSON textarea for anything a
 * single input cannot hold.
 *
 * `buildForm(container, schema, doc)` fills `container` and returns `{ read() }`, which gives the
 * request body or throws an `Error` naming the field that cannot be read. `doc` is the OpenAPI
 * document, where local `$ref`s not found in the schema itself are looked up.
 */
// biome-ignore lint/complexity/noUselessStringRaw: raw, so a backslash added later reaches the page as written
export const SCHEMA_FORM_SOURCE = String.raw`
/** The value at a "#/a/b" pointer in the first of "roots" that has one. */
function lookUp(ref, roots) {
  var parts = ref.slice(1).split("/").filter(function (part) {
    return part !== "";
  });
  for (var r = 0; r < roots.length; r++) {
    var target = roots[r];
    for (var i = 0; i < parts.length && target !== undefined; i++) {
      var key = decodeURIComponent(parts[i]).replace(/~1/g, "/").replace(/~0/g, "~");
      target = target && typeof target === "object" ? target[key] : undefined;
    }
    if (target !== undefined) return target;
  }
  return undefined;
}

// "roots": where local $refs may point. z.toJSONSchema puts "$defs" at the root of the input
// schema, and OpenAPI tools put "components" at the root of the document: both are tried.
function resolveSchema(schema, roots, depth) {
  depth = depth || 0;
  if (!schema || typeof schema !== "object" || depth > 32) return schema || {};
  var out = schema;
  if (typeof out.$ref === "string" && out.$ref.charAt(0) === "#") {
    out = Object.assign({}, lookUp(out.$ref, roots) || {}, out);
    delete out.$ref;
    return resolveSchema(out, roots, depth + 1);
  }
  var branches = Array.isArray(out.anyOf) ? out.anyOf : Array.isArray(out.oneOf) ? out.oneOf : null;
  if (branches) {
    var nonNull = branches.filter(function (b) {
      return !(b && b.type === "null");
    });
    var constants = nonNull.map(function (b) {
      var one = resolveSchema(b, roots, depth + 1);
      return "const" in one ? [one.const] : Array.isArray(one.enum) ? one.enum : null;
    });
    if (nonNull.length > 1 && constants.every(Array.isArray)) {
      // A union of literals (z.union([z.literal(1), z.literal(2)])) is a choice like an enum.
      var choices = Object.assign({}, out, { enum: [].concat.apply([], constants) });
      delete choices.anyOf;
      delete choices.oneOf;
      return choices;
    }
    if (nonNull.length === 1) {
      var rest = Object.assign({}, out);
      delete rest.anyOf;
      delete rest.oneOf;
      return resolveSchema(Object.assign({}, resolveSchema(nonNull[0], roots, depth + 1), rest), roots, depth + 1);
    }
  }
  if (Array.isArray(out.allOf) && out.allOf.length === 1) {
    var own = Object.assign({}, out);
    delete own.allOf;
    return resolveSchema(Object.assign({}, resolveSchema(out.allOf[0], roots, depth + 1), own), roots, depth + 1);
  }
  if (Array.isArray(out.type)) {
    var types = out.type.filter(function (t) {
      return t !== "null";
    });
    if (types.length === 1) out = Object.assign({}, out, { type: types[0] });
  }
  return out;
}

function fieldKind(schema) {
  var choices = Array.isArray(schema.enum) ? schema.enum : "const" in schema ? [schema.const] : null;
  if (choices && choices.length > 0 && choices.every(function (c) {
    return c === null || ["string", "number", "boolean"].indexOf(typeof c) !== -1;
  })) return "enum";
  if (schema.type === "boolean") return "boolean";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "string") return "string";
  return "json";
}

function buildForm(container, schema, doc) {
  container.textContent = "";
  var roots = [schema || {}, doc];
  var resolved = resolveSchema(schema || {}, roots);
  var objectLike = resolved.type === "object" || (resolved.type === undefined && resolved.properties);
  if (!objectLike || !resolved.properties) {
    // A body that is not an object with named properties is edited as one JSON value.
    var whole = addField(container, "body", Object.assign({}, resolved), true, "json");
    return {
      read: function () {
        var value = whole.read();
        return value.present ? value.value : null;
      },
    };
  }
  var required = Array.isArray(resolved.required) ? resolved.required : [];
  var fields = Object.keys(resolved.properties).map(function (name) {
    var property = resolveSchema(resolved.properties[name], roots);
    return { name: name, field: addField(container, name, property, required.indexOf(name) !== -1) };
  });
  return {
    read: function () {
      var body = {};
      fields.forEach(function (f) {
        var value = f.field.read();
        if (value.present) body[f.name] = value.value;
      });
      return body;
    },
  };
}

function addField(container, name, schema, required, forceKind) {
  var kind = forceKind || fieldKind(schema);
  var id = "field-" + name;
  var row = el("div", { class: "field field-" + kind });
  var label = el("label", { for: id }, name + (required ? " *" : ""));
  var hasDefault = "default" in schema;
  var input;
  if (kind === "enum") {
    var choices = Array.isArray(schema.enum) ? schema.enum : [schema.const];
    input = el("select", { id: id, name: name });
    if (!required && !hasDefault) input.appendChild(el("option", { value: "" }, "(not set)"));
    choices.forEach(function (choice, i) {
      var option = el("option", { value: String(i) }, String(choice));
      if (hasDefault && choice === schema.default) option.selected = true;
      input.appendChild(option);
    });
  } else if (kind === "boolean") {
    input = el("input", { id: id, name: name, type: "checkbox" });
    input.checked = schema.default === true;
  } else if (kind === "number") {
    input = el("input", { id: id, name: name, type: "number", inputmode: "decimal" });
    // An exclusive bound of an integer is the next integer in; of a number, the bound itself.
    var inward = schema.type === "integer" ? 1 : 0;
    var min = typeof schema.minimum === "number" ? schema.minimum : schema.exclusiveMinimum + inward;
    var max = typeof schema.maximum === "number" ? schema.maximum : schema.exclusiveMaximum - inward;
    if (typeof min === "number" && Number.isSafeInteger(Math.trunc(min))) input.min = String(min);
    if (typeof max === "number" && Number.isSafeInteger(Math.trunc(max))) input.max = String(max);
    input.step = typeof schema.multipleOf === "number" ? String(schema.multipleOf) : schema.type === "integer" ? "1" : "any";
    if (typeof schema.default === "number") input.value = String(schema.default);
  } else if (kind === "string") {
    input = el("input", { id: id, name: name, type: "text", autocomplete: "off" });
    if (typeof schema.maxLength === "number") input.maxLength = schema.maxLength;
    if (typeof schema.default === "string") input.value = schema.default;
  } else {
    input = el("textarea", { id: id, name: name, rows: "4", spellcheck: "false" });
    if (hasDefault) input.value = JSON.stringify(schema.default, null, 2);
    else if (required && schema.type === "array") input.value = "[]";
    else if (required && schema.type === "object") input.value = "{}";
  }
  input.setAttribute("data-testid", id);
  row.appendChild(label);
  row.appendChild(input);
  var hint = [schema.description, kind === "json" ? "JSON" : null].filter(Boolean).join(" · ");
  if (hint) row.appendChild(el("small", { class: "hint" }, hint));
  container.appendChild(row);

  return {
    read: function () {
      if (kind === "enum") {
        if (input.value === "") return { present: false };
        return { present: true, value: choices[Number(input.value)] };
      }
      if (kind === "boolean") return { present: true, value: input.checked };
      if (kind === "number") {
        if (input.value.trim() === "") return { present: false };
        var n = Number(input.value);
        if (!Number.isFinite(n)) throw new Error(name + ": expected a number, got " + JSON.stringify(input.value));
        return { present: true, value: n };
      }
      if (kind === "string") {
        // Left empty, an optional string is left out (the server fills its default, if any) unless
        // the default is text the user cleared on purpose.
        var textDefault = typeof schema.default === "string" && schema.default !== "";
        if (input.value === "" && !required && !textDefault) return { present: false };
        return { present: true, value: input.value };
      }
      if (input.value.trim() === "") return { present: false };
      try {
        return { present: true, value: JSON.parse(input.value) };
      } catch (error) {
        throw new Error(name + ": not valid JSON (" + error.message + ")");
      }
    },
  };
}
`;
