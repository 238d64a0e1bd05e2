import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Every TypeScript snippet in docs/ is a region of a file under docs/snippets/, which `tsc`
 * type-checks against the real API (`npm test` runs it). This test keeps each page's copy equal
 * to its file, so the docs cannot drift from code that compiles.
 */
const docs = new URL("../docs/", import.meta.url).pathname;
const MARKER = /<!-- snippet: (\S+?)(?:#(\S+))? -->\n```ts\n([\s\S]*?)```/g;

function region(file: string, name: string | undefined): string {
  const text = readFileSync(join(docs, file), "utf8");
  const start = name === undefined ? "// docs:start\n" : `// docs:start ${name}\n`;
  const end = name === undefined ? "// docs:end" : `// docs:end ${name}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`${file} has no region ${name ?? "(unnamed)"}`);
  const lines = text
    .slice(from + start.length, to)
    .replace(/[ \t]*$/, "")
    .split("\n");
  const indent = Math.min(
    ...lines
      .filter((l) => l.trim() !== "")
      .map((l) => (/^ */.exec(l) as RegExpExecArray)[0].length),
  );
  return lines
    .map((l) => l.slice(indent))
    .filter((l) => !/\/\/ docs:(start|end)/.test(l))
    .join("\n");
}

const pages = readdirSync(docs).filter((f) => f.endsWith(".md"));

describe.each(pages)("docs/%s", (page) => {
  const text = readFileSync(join(docs, page), "utf8");

  it("has only TypeScript snippets that come from a type-checked file", () => {
    const blocks = text.match(/```ts\n/g)?.length ?? 0;
    const marked = [...text.matchAll(MARKER)];
    expect(marked.length, "every ```ts block is preceded by a snippet marker").toBe(blocks);
    for (const [, file, name, body] of marked) {
      expect(body, `${file}#${name ?? ""}`).toBe(region(file as string, name));
    }
  });
});
