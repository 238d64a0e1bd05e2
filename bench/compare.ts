/**
 * Puts runs of `npm run bench` on two commits side by side: `npx tsx bench/compare.ts
 * --before a1.md,a2.md --after b1.md,b2.md [--into BENCHMARKS.md]`. Each file is a BENCHMARKS.md
 * that one run wrote; runs of the two commits are meant to alternate in one stretch of time, so
 * that the machine's drift shows in both columns alike. With `--into`, the table is appended to
 * that file as the section "Before and after"; without, it is printed.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

/** A run's figures: section title → figure → troupe's cell. */
type Figures = Map<string, Map<string, string>>;

/** The rows of every table in a BENCHMARKS.md, by section. */
export function parseFigures(markdown: string): Figures {
  const figures: Figures = new Map();
  let section = "";
  let header: string[] | undefined;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("## ")) {
      section = line.slice(3).trim();
      header = undefined;
      continue;
    }
    if (!line.startsWith("|")) {
      header = undefined;
      continue;
    }
    const cells = line
      .slice(1, line.endsWith("|") ? -1 : undefined)
      .split("|")
      .map((cell) => cell.trim());
    if (header === undefined) {
      header = cells;
      continue;
    }
    if (cells.every((cell) => /^-+$/.test(cell))) continue;
    const troupe = header.indexOf("troupe");
    const [figure] = cells;
    if (troupe < 1 || figure === undefined || figure === "") continue;
    let rows = figures.get(section);
    if (rows === undefined) {
      rows = new Map();
      figures.set(section, rows);
    }
    rows.set(figure, cells[troupe] ?? "");
  }
  return figures;
}

/** One table per section: each figure with every before run's value and every after run's. */
export function renderComparison(before: Figures[], after: Figures[]): string {
  const sections = [...new Set([...after, ...before].flatMap((run) => [...run.keys()]))];
  const out: string[] = [];
  for (const section of sections) {
    const figures = [
      ...new Set([...after, ...before].flatMap((run) => [...(run.get(section)?.keys() ?? [])])),
    ];
    if (figures.length === 0) continue;
    const columns = [
      ...before.map((_, i) => `before, run ${i + 1}`),
      ...after.map((_, i) => `after, run ${i + 1}`),
    ];
    out.push(`### ${section}`, "");
    out.push(`| Figure | ${columns.join(" | ")} |`);
    out.push(`|---|${columns.map(() => "---").join("|")}|`);
    for (const figure of figures) {
      const cells = [...before, ...after].map((run) => run.get(section)?.get(figure) ?? "—");
      out.push(`| ${figure} | ${cells.join(" | ")} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      before: { type: "string" },
      after: { type: "string" },
      into: { type: "string" },
      "before-label": { type: "string", default: "the starting commit" },
      "after-label": { type: "string", default: "this commit" },
    },
  });
  if (values.before === undefined || values.after === undefined) {
    throw new Error("Usage: compare.ts --before a.md[,a2.md] --after b.md[,b2.md] [--into FILE]");
  }
  const read = async (list: string): Promise<Figures[]> =>
    Promise.all(list.split(",").map(async (file) => parseFigures(await readFile(file, "utf8"))));
  const table = renderComparison(await read(values.before), await read(values.after));
  const section = [
    "## Before and after",
    "",
    `Runs of \`npm run bench\` on ${values["before-label"]} ("before") and ${values["after-label"]} ("after"), alternating in one stretch of time (before, after, before, after), on the machine above. Each cell is troupe's figure from that run.`,
    "",
    table,
  ].join("\n");
  if (values.into === undefined) {
    process.stdout.write(`${section}\n`);
    return;
  }
  const current = await readFile(values.into, "utf8");
  const kept = current.split("\n## Before and after\n")[0]?.trimEnd() ?? current;
  await writeFile(values.into, `${kept}\n\n${section}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
