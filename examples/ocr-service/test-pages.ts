/**
 * Pages of known text for the tests and the bench: lines of English drawn by sharp from SVG text in
 * DejaVu Sans (Debian's fonts-dejavu-core, which .ci/run installs), black on white.
 */
import sharp from "sharp";

/** Sentences the pages are made of: letters of both cases, digits and punctuation. */
const SENTENCES = [
  "The quick brown fox jumps over the lazy dog.",
  "Pack my box with five dozen liquor jugs, then ship it.",
  "Invoice 2047 was paid on March 14 for a total of 318.50 euros.",
  "Every rank reads its share of the lines and streams each one.",
  "Rank zero finds the text boxes and scatters them to the others.",
  "A slow client sees the newest preview instead of a backlog.",
  "Sphinx of black quartz, judge my vow before the night is over.",
  "The meeting moved from room 12 to room 31 at half past nine.",
  "Detection runs once per page; recognition runs once per line.",
  "How vexingly quick daft zebras jump across the quiet field!",
  "Order 5561 ships in 3 boxes weighing 2.4, 7.1 and 9.8 kg.",
  "Bright vixens jump; dozy fowl quack under the old oak tree.",
  "Send the final report to the team before Friday at noon.",
  "The train to Lyon leaves from platform 4 at 17:45 today.",
  "Jackdaws love my big sphinx of quartz, said the old sailor.",
  "Call the front desk at 555 0199 if the door will not open.",
  "Waltz, bad nymph, for quick jigs vex the sleepy guards.",
  "The recipe needs 250 grams of flour and 3 large eggs.",
  "Five quacking zephyrs jolt my wax bed in the cold morning.",
  "Please return the borrowed books to the library by June 30.",
  "Quick zephyrs blow, vexing daft Jim on his long walk home.",
  "The bridge is 1,280 metres long and opened in the year 1937.",
] as const;

/** Line `i` of every page: the sentences in turn, so pages of any length are known text. */
export function knownLines(count: number, offset = 0): string[] {
  return Array.from(
    { length: count },
    (_, i) => SENTENCES[(i + offset) % SENTENCES.length] as string,
  );
}

/** How a page is drawn. */
export interface PageLayout {
  /** Font size of each line, in pixels (cycled). @default [16, 20, 24] */
  readonly fontSizes?: readonly number[];
  /** Page width in pixels. @default 900 */
  readonly width?: number;
  readonly margin?: number;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A PNG of `lines`, one text line each, top to bottom. */
export async function renderPage(
  lines: readonly string[],
  layout: PageLayout = {},
): Promise<Buffer> {
  const fontSizes = layout.fontSizes ?? [16, 20, 24];
  const width = layout.width ?? 900;
  const margin = layout.margin ?? 32;
  let y = margin;
  const texts = lines.map((line, i) => {
    const size = fontSizes[i % fontSizes.length] as number;
    y += Math.round(size * 1.7);
    return `<text x="${margin}" y="${y}" font-size="${size}">${escapeXml(line)}</text>`;
  });
  const height = y + margin;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="white"/>
<g font-family="DejaVu Sans" fill="black">${texts.join("\n")}</g>
</svg>`;
  return await sharp(Buffer.from(svg)).png().toBuffer();
}

/** A `data:image/png;base64,…` URL of a rendered page. */
export async function pageDataUrl(lines: readonly string[], layout?: PageLayout): Promise<string> {
  return `data:image/png;base64,${(await renderPage(lines, layout)).toString("base64")}`;
}
