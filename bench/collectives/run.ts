/** Prints the collectives benchmark as a table: `npx tsx bench/collectives/run.ts`. */
import { benchCollectives } from "./collectives.ts";

const rows = await benchCollectives();
const header = ["figure", "troupe", "torch gloo", "speed-up", "target"];
const table = rows.map((r) => [r.figure, r.troupe, r.peer ?? "n/a", r.ratio ?? "n/a", r.target]);
const widths = header.map((h, i) =>
  Math.max(h.length, ...table.map((row) => (row[i] ?? "").length)),
);
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const row of table) console.log(line(row));
