/**
 * A small lexer over JavaScript (TypeScript after its types are stripped) that finds what a module
 * imports. It skips comments, strings, template literals and regular expressions, so a specifier
 * or an `@` inside them is not taken for code; the choice between a regular expression and a
 * division follows the usual rule of the token before the `/`.
 */

/** What {@link scanImports} found in a module's code. */
export interface ImportScan {
  /** Specifiers of static imports, re-exports and `import()` calls with a string literal. */
  readonly specifiers: string[];
  /** `import()` calls whose specifier is computed, which no scan can follow. */
  readonly computedImports: number;
  /** An `@` in code: a decorator. */
  readonly decorators: boolean;
  /** A `using` or `await using` declaration. */
  readonly usingDeclarations: boolean;
}

type Kind = "name" | "punct" | "string" | "other";

interface Token {
  readonly kind: Kind;
  readonly value: string;
}

/** After these words an expression starts, so a `/` there opens a regular expression. */
const BEFORE_EXPRESSION = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

const NAME_START = /[A-Za-z_$\u0080-\uffff]/;
const NAME_PART = /[\w$\u0080-\uffff]/;

/** The imports of `code`, an ES module; see {@link ImportScan}. */
export function scanImports(code: string): ImportScan {
  const tokens = tokenize(code);
  const specifiers: string[] = [];
  let computedImports = 0;
  let usingDeclarations = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind !== "name" || isPunct(tokens[i - 1], ".")) continue;
    if (token.value === "import") {
      const next = tokens[i + 1];
      if (isPunct(next, "(")) {
        const argument = tokens[i + 2];
        const after = tokens[i + 3];
        if (argument?.kind === "string" && (isPunct(after, ")") || isPunct(after, ","))) {
          specifiers.push(argument.value);
        } else computedImports++;
      } else if (next?.kind === "string") specifiers.push(next.value);
      else if (next !== undefined && !isPunct(next, ".")) {
        const from = fromClause(tokens, i + 1);
        if (from !== undefined) specifiers.push(from);
      }
    } else if (token.value === "export") {
      const next = tokens[i + 1];
      if (isPunct(next, "{") || isPunct(next, "*")) {
        const from = fromClause(tokens, i + 1);
        if (from !== undefined) specifiers.push(from);
      }
    } else if (token.value === "using" && isUsingDeclaration(tokens, i)) {
      usingDeclarations = true;
    }
  }
  return {
    specifiers,
    computedImports,
    decorators: tokens.some((token) => isPunct(token, "@")),
    usingDeclarations,
  };
}

/**
 * The specifier of `from "…"` ending the import or export clause that starts at `start`, or
 * undefined when the clause has none (`export { a }`) or is not a clause at all (`{ import: 1 }`).
 */
function fromClause(tokens: readonly Token[], start: number): string | undefined {
  for (let i = start; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind === "name" && token.value === "from" && tokens[i + 1]?.kind === "string") {
      // `import { from } from "x"`: the last `from` before the string is the keyword.
      return (tokens[i + 1] as Token).value;
    }
    const inClause =
      token.kind === "name" ||
      token.kind === "string" ||
      (token.kind === "punct" && "{},*".includes(token.value));
    if (!inClause) return undefined;
  }
  return undefined;
}

/** `using x =`, `await using x =` or `for (using x of …)`, not a variable named `using`. */
function isUsingDeclaration(tokens: readonly Token[], at: number): boolean {
  const name = tokens[at + 1];
  if (name?.kind !== "name" || name.value === "in" || name.value === "of") return false;
  const after = tokens[at + 2];
  return isPunct(after, "=") || (after?.kind === "name" && after.value === "of");
}

function isPunct(token: Token | undefined, value: string): boolean {
  return token?.kind === "punct" && token.value === value;
}

function tokenize(code: string): Token[] {
  const tokens: Token[] = [];
  // What each open `{` belongs to: a block or object, or a template literal's `${`.
  const braces: ("block" | "template")[] = [];
  let i = 0;
  const push = (kind: Kind, value: string) => tokens.push({ kind, value });
  while (i < code.length) {
    const c = code[i] as string;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") i++;
    else if (c === "/" && code[i + 1] === "/") {
      const end = code.indexOf("\n", i);
      i = end === -1 ? code.length : end;
    } else if (c === "/" && code[i + 1] === "*") {
      const end = code.indexOf("*/", i + 2);
      i = end === -1 ? code.length : end + 2;
    } else if (c === '"' || c === "'") {
      const end = stringEnd(code, i, c);
      push("string", literalText(code.slice(i + 1, end - 1)));
      i = end;
    } else if (c === "`") {
      i = templateEnd(code, i + 1, braces);
      push("other", "`");
    } else if (c === "}" && braces.at(-1) === "template") {
      braces.pop();
      i = templateEnd(code, i + 1, braces);
      push("other", "`");
    } else if (c === "/" && regexAllowed(tokens.at(-1))) {
      i = regexEnd(code, i);
      push("other", "/");
    } else if (NAME_START.test(c) || (c === "#" && NAME_START.test(code[i + 1] ?? ""))) {
      let end = i + 1;
      while (end < code.length && NAME_PART.test(code[end] as string)) end++;
      push("name", code.slice(i, end));
      i = end;
    } else if (c >= "0" && c <= "9") {
      let end = i + 1;
      while (end < code.length && /[\w.]/.test(code[end] as string)) end++;
      push("other", code.slice(i, end));
      i = end;
    } else {
      if (c === "{") braces.push("block");
      else if (c === "}") braces.pop();
      push("punct", c);
      i++;
    }
  }
  return tokens;
}

function regexAllowed(previous: Token | undefined): boolean {
  if (previous === undefined) return true;
  if (previous.kind === "name") return BEFORE_EXPRESSION.has(previous.value);
  if (previous.kind === "punct") return !(previous.value === ")" || previous.value === "]");
  return false;
}

/** The index after the string opened by `quote` at `start` (or the line's end, unterminated). */
function stringEnd(code: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < code.length) {
    const c = code[i];
    if (c === "\\") i += 2;
    else if (c === quote) return i + 1;
    else if (c === "\n") return i;
    else i++;
  }
  return code.length;
}

/** Scans template text from `start`: to after its closing backtick, or into a `${` (pushed). */
function templateEnd(code: string, start: number, braces: ("block" | "template")[]): number {
  let i = start;
  while (i < code.length) {
    const c = code[i];
    if (c === "\\") i += 2;
    else if (c === "`") return i + 1;
    else if (c === "$" && code[i + 1] === "{") {
      braces.push("template");
      return i + 2;
    } else i++;
  }
  return code.length;
}

/** The index after the regular expression (and its flags) that starts at `start`. */
function regexEnd(code: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < code.length) {
    const c = code[i];
    if (c === "\\") i += 2;
    else if (c === "\n") return i;
    else if (inClass) {
      if (c === "]") inClass = false;
      i++;
    } else if (c === "[") {
      inClass = true;
      i++;
    } else if (c === "/") {
      i++;
      while (i < code.length && NAME_PART.test(code[i] as string)) i++;
      return i;
    } else i++;
  }
  return code.length;
}

/** A string literal's text; specifiers carry no escapes but a quote or a backslash. */
function literalText(raw: string): string {
  return raw.includes("\\") ? raw.replace(/\\(.)/g, "$1") : raw;
}
