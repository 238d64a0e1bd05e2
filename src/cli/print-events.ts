import type { ClientStream } from "../client/index.ts";
import type { EventPrinter } from "./event-printer.ts";
import { saveImages } from "./save-images.ts";

/** `-o, --out <dir>`, for `.option(...OUT_OPTION)` on a command that prints events. */
export const OUT_OPTION = [
  "-o, --out <dir>",
  "where to save images found in events (default: the current directory)",
] as const;

/** Exit code of a request that finished after non-fatal error events. */
export const EXIT_WITH_ERROR_EVENTS = 3;

/**
 * Prints `s`'s events as they arrive, the images in them saved under `out`, the final result
 * last; resolves with the exit code (0, or {@link EXIT_WITH_ERROR_EVENTS} after non-fatal error
 * events) and rejects with the error that failed the request. `troupe stream` and `troupe submit
 * --follow` print through it.
 */
export async function printEvents(
  s: ClientStream,
  printer: EventPrinter,
  out: string,
): Promise<number> {
  // The fal dialect's final result is also its last result: save its images once.
  const shown = new WeakMap<object, unknown>();
  let n = 0;
  let errors = 0;
  const show = async (data: unknown): Promise<unknown> => {
    if (data !== null && typeof data === "object" && shown.has(data)) return shown.get(data);
    n += 1;
    const { value, saved } = await saveImages(data, n, out);
    for (const image of saved) printer.image(n, image);
    if (data !== null && typeof data === "object") shown.set(data, value);
    return value;
  };
  for await (const event of s.events()) {
    switch (event.type) {
      case "queued":
        printer.queued(event.position);
        break;
      case "started":
        printer.started();
        break;
      case "result": {
        const data = await show(event.data);
        printer.result(n, data, event.id);
        break;
      }
      case "error":
        errors += 1;
        printer.error(event.error);
        break;
      case "retry":
        printer.retry(event.attempt, event.error);
        break;
      case "done":
        printer.done(await show(event.data));
        break;
    }
  }
  return errors > 0 ? EXIT_WITH_ERROR_EVENTS : 0;
}
