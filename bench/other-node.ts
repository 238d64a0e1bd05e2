/**
 * Adds another Node's run of `npm run bench` to BENCHMARKS.md: `npx tsx bench/other-node.ts
 * --from run.md --into BENCHMARKS.md`. `run.md` is the BENCHMARKS.md that run wrote (the same
 * commit, right after the main run); its Node version and its Results table become the section
 * "Node <version>", placed before "Before and after" when there is one and replacing an earlier
 * section of that Node's major version. The start targets that apply from Node 24 on are judged
 * in that run's own table.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

/** The lines of the section titled `title` (its heading excluded), up to the next `## `. */
export function sectionOf(markdown: string, title: string): string[] {
  const lines = markdown.split("\n");
  const start = lines.indexOf(`## ${title}`);
  if (start < 0) return [];
  const end = lines.findIndex((line, i) => i > start && line.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The run's Node version, from its Machine table (`| Node | v24.1.0 |`). */
export function nodeVersionOf(markdown: string): string {
  const row = sectionOf(markdown, "Machine").find((line) => line.startsWith("| Node |"));
  const version = row?.split("|")[2]?.trim();
  if (version === undefined || !/^v\d+\./.test(version)) {
    throw new Error("The run names no Node version in its Machine table");
  }
  return version;
}

/** `into` with the other run's section in its place. */
export function withOtherNode(into: string, run: string): string {
  const version = nodeVersionOf(run);
  const major = version.slice(1).split(".")[0];
  const table = sectionOf(run, "Results").filter((line) => line.startsWith("|"));
  if (table.length === 0) throw new Error("The run has no Results table");
  const loads = sectionOf(run, "Machine")
    .find((line) => line.startsWith("| Load average"))
    ?.split("|")[2]
    ?.trim();
  const section = [
    `## Node ${version.slice(1)}`,
    "",
    `The same commit's \`npm run bench\`, run right after the one above with Node ${version.slice(1)} (load average at its start ${loads ?? "not recorded"}). Its results table, where the start-up targets that apply from Node 24 on are judged: the compiled worker's \`start()\` ≤ 150 ms p50, and a \`.ts\` worker (Node's own type stripping, no loader) within 15 % of it.`,
    "",
    ...table,
    "",
  ].join("\n");
  // An earlier section of the same major version goes.
  const kept = into
    .split(/\n(?=## )/)
    .filter(
      (part) => !part.startsWith(`## Node ${major}.`) && !part.startsWith(`## Node ${major}\n`),
    );
  const after = kept.findIndex((part) => part.startsWith("## Before and after"));
  kept.splice(after < 0 ? kept.length : after, 0, section);
  return `${kept.map((part) => part.trimEnd()).join("\n\n")}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { from: { type: "string" }, into: { type: "string", default: "BENCHMARKS.md" } },
  });
  if (values.from === undefined) {
    throw new Error("Usage: other-node.ts --from run.md [--into BENCHMARKS.md]");
  }
  const into = await readFile(values.into, "utf8");
  await writeFile(values.into, withOtherNode(into, await readFile(values.from, "utf8")));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
