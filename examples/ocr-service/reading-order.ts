/**
 * Reading order for a page's text boxes: rows top to bottom, boxes left to right within a row.
 * Two boxes share a row when their vertical middles are closer than half the boxes' mean height
 * (the rule `@gutenye/ocr-common` and PaddleOCR's `sorted_boxes` use), so words the detector
 * found apart on one line stay on that line.
 */
import type { Point } from "./text-boxes.ts";

type Box = readonly [Point, Point, Point, Point];

const middle = (box: Box) => (box[0][1] + box[1][1] + box[2][1] + box[3][1]) / 4;
const left = (box: Box) => Math.min(box[0][0], box[3][0]);
const heightOf = (box: Box) => (box[3][1] - box[0][1] + box[2][1] - box[1][1]) / 2;

/** Items sorted into reading order, each with the row it is on (0 = the top row). */
export function readingOrder<T extends { readonly box: Box }>(
  items: readonly T[],
): { item: T; row: number }[] {
  if (items.length === 0) return [];
  const tolerance = items.reduce((sum, { box }) => sum + heightOf(box), 0) / items.length / 2;
  const byMiddle = [...items].sort((a, b) => middle(a.box) - middle(b.box));
  const rows: T[][] = [];
  for (const item of byMiddle) {
    const row = rows.at(-1);
    const anchor = row?.[0];
    if (
      row !== undefined &&
      anchor !== undefined &&
      middle(item.box) - middle(anchor.box) < tolerance
    ) {
      row.push(item);
    } else {
      rows.push([item]);
    }
  }
  return rows.flatMap((row, index) =>
    row.sort((a, b) => left(a.box) - left(b.box)).map((item) => ({ item, row: index })),
  );
}

/** A page's text: its rows on lines, the boxes of a row separated by a space. */
export function pageText(
  lines: readonly { readonly row: number; readonly text: string }[],
): string {
  const rows = new Map<number, string[]>();
  for (const { row, text } of lines) rows.set(row, [...(rows.get(row) ?? []), text]);
  return [...rows.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, texts]) => texts.join(" "))
    .join("\n");
}
