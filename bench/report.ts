import type { Machine } from "./machine.ts";
import type { Row } from "./targets.ts";

export const PEER_LABEL = "fal.distributed (measured, reported in the issue)";

export interface Report {
  readonly date: Date;
  readonly machine: Machine;
  readonly rows: readonly Row[];
  /** The collectives' rows, or why they are missing. */
  readonly collectives: readonly Row[] | string;
  /** Further parts' tables (serving, examples), each with its rows or why they are missing. */
  readonly sections: readonly Section[];
  /** How each figure was taken, and what skews it. */
  readonly notes: readonly string[];
}

export interface Section {
  readonly title: string;
  readonly rows: readonly Row[] | string;
  readonly peerLabel?: string;
}

/** A Markdown table with padded columns, readable as is in a terminal. */
export function renderTable(rows: readonly Row[], peerLabel: string = PEER_LABEL): string {
  const header = ["Figure", "troupe", peerLabel, "Target", "Pass"];
  const cells = rows.map((row) => [
    row.figure,
    row.troupe,
    row.peer ?? "—",
    row.target,
    row.pass === undefined ? "—" : row.pass ? "✅ pass" : "❌ fail",
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((line) => (line[i] ?? "").length)),
  );
  const line = (values: readonly string[]): string =>
    `| ${values.map((value, i) => value.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const rule = `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`;
  return [line(header), rule, ...cells.map(line)].join("\n");
}

export function renderMarkdown(report: Report): string {
  const { machine } = report;
  const collectives =
    typeof report.collectives === "string"
      ? report.collectives
      : renderTable(report.collectives, "torch.distributed gloo (measured in this run)");
  return `# Benchmarks

Written by \`npm run bench\` on ${report.date.toISOString()}. World size 2, CPU ranks, the compiled
build (\`dist/\`) with compiled bench workers (\`build/bench/*.js\`) unless a row says otherwise.

## Machine

| | |
|---|---|
| CPU | ${machine.cpu} |
| Cores | ${machine.cores} |
| Memory | ${machine.memoryGiB.toFixed(1)} GiB |
| OS | ${machine.os} |
| Node | ${machine.node} |
| Load average at start (1/5/15 min) | ${machine.loadAverage.map((x) => x.toFixed(2)).join(" / ")} |

## Results

${renderTable(report.rows)}

## Collectives

${collectives}
${report.sections
  .map(
    (section) =>
      `\n## ${section.title}\n\n${typeof section.rows === "string" ? section.rows : renderTable(section.rows, section.peerLabel)}\n`,
  )
  .join("")}
## Method

${report.notes.map((note) => `- ${note}`).join("\n")}
`;
}
