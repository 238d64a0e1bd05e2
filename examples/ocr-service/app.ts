import { z } from "zod";
import { App, type EndpointContext, endpoint, StreamingResponse } from "../../src/app/index.ts";
import { DistributedRunner } from "../../src/index.ts";
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, resolveImages } from "./image-input.ts";
import type OcrWorker from "./worker.ts";
import type { OcrInput, OcrSetup } from "./worker.ts";

/** The most pages one request may hold. */
export const MAX_PAGES = 16;

const ImageUrl = z
  .string()
  .min(1)
  .describe("A data: URL (data:image/png;base64,…) or an http(s) URL of an image");

/**
 * fal's image input: `{ image_url }` for one page or `{ image_urls }` for several, exactly one of
 * the two; `preview_every` lines the preview of a page is redrawn.
 */
export const OcrRequest = z
  .object({
    image_url: ImageUrl.optional(),
    image_urls: z.array(ImageUrl).min(1).max(MAX_PAGES).optional().describe("Pages, in order"),
    preview_every: z
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe("Redraw the preview of a page every this many lines read"),
  })
  .superRefine((body, ctx) => {
    if ((body.image_url === undefined) === (body.image_urls === undefined)) {
      ctx.addIssue({ code: "custom", message: "Give exactly one of image_url and image_urls" });
    }
  });

export type OcrRequest = z.infer<typeof OcrRequest>;

/**
 * The OCR service: `POST /stream` reads the pages on every rank and streams each line as it is
 * read, a preview of the page with the boxes found so far, and the pages' text last; `POST /`
 * answers with the text only. Serve it with `main.ts`, or `npx troupe run examples/ocr-service/app.ts`.
 */
export default class OcrApp extends App {
  override numGpus = 2;
  /** GPU ids, one per rank; `[]` runs the ranks on the CPU. @default detected (troupe's `gpus`) */
  gpus: readonly number[] | undefined = undefined;
  /** What every rank's `setup()` gets: intra-op threads, other model files. */
  setupOptions: OcrSetup = {};
  /** Size, time and pixel limits of input images, and whether http(s) URLs are fetched. */
  imageLimits: ImageLimits = DEFAULT_IMAGE_LIMITS;
  runner!: DistributedRunner<OcrWorker>;

  override async setup() {
    this.runner = new DistributedRunner<OcrWorker>({
      worker: new URL("./worker.ts", import.meta.url),
      worldSize: this.numGpus,
      ...(this.gpus === undefined ? {} : { gpus: this.gpus }),
    });
    await this.runner.start({ timeout: 120_000, setup: this.setupOptions });
  }

  @endpoint("/stream", {
    input: OcrRequest,
    streaming: true,
    summary: "Read the text of images, streaming every line as a rank reads it",
  })
  async stream(request: OcrRequest, ctx: EndpointContext) {
    const input = await this.inputOf(request, ctx);
    return new StreamingResponse(this.runner.stream(input, { requestId: ctx.requestId }));
  }

  @endpoint("/", { input: OcrRequest, summary: "Read the text of images; the pages' text only" })
  async read(request: OcrRequest, ctx: EndpointContext) {
    return await this.runner.invoke(await this.inputOf(request, ctx), {
      requestId: ctx.requestId,
    });
  }

  /** The worker's input: every image fetched or decoded from its data URL, or a 422. */
  private async inputOf(request: OcrRequest, ctx: EndpointContext): Promise<OcrInput> {
    const urls =
      request.image_url === undefined
        ? (request.image_urls ?? []).map((url, i) => ({ path: `image_urls.${i}`, url }))
        : [{ path: "image_url", url: request.image_url }];
    const images = await resolveImages(urls, this.imageLimits, ctx.signal);
    return {
      pages: images.map((image, i) => ({
        name: (urls[i]?.path ?? "").replace(/\.(\d+)$/, "[$1]"),
        image,
      })),
      previewEvery: request.preview_every,
    };
  }
}
