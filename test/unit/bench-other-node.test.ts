import { describe, expect, it } from "vitest";
import { nodeVersionOf, withOtherNode } from "../../bench/other-node.ts";

const run = (node: string, figure: string) =>
  [
    "# Benchmarks",
    "",
    "## Machine",
    "",
    "| | |",
    "|---|---|",
    `| Node | ${node} |`,
    "| Load average at start (1/5/15 min) | 0.10 / 0.20 / 0.30 |",
    "",
    "## Results",
    "",
    "| Figure | troupe |",
    "|---|---|",
    `| ${figure} | 1 ms |`,
    "",
    "## Method",
    "",
    "- notes",
    "",
  ].join("\n");

describe("bench/other-node.ts", () => {
  it("puts another Node's results table before Before and after, replacing one of its major", () => {
    const main = `${run("v20.20.2", "start")}\n## Node 24.1.0\n\nold\n\n## Before and after\n\ntable\n`;
    const merged = withOtherNode(main, run("v24.22.3", "start on 24"));
    const headings = merged.split("\n").filter((line) => line.startsWith("## "));
    expect(headings).toEqual([
      "## Machine",
      "## Results",
      "## Method",
      "## Node 24.22.3",
      "## Before and after",
    ]);
    expect(merged).toContain("| start on 24 | 1 ms |");
    expect(merged).toContain("load average at its start 0.10 / 0.20 / 0.30");
    expect(merged).not.toContain("\nold\n");
  });

  it("refuses a run without a Node version", () => {
    expect(() => nodeVersionOf("# Benchmarks\n")).toThrow(/no Node version/);
  });
});
