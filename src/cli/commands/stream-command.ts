import { resolve } from "node:path";
import type { Command } from "commander";
import { stream } from "../../client/index.ts";
import { API_KEY_OPTION, apiKeyOption } from "../api-key.ts";
import { type CliEnvironment, isInteractive } from "../environment.ts";
import { type EventPrinter, jsonLinesPrinter, terminalPrinter } from "../event-printer.ts";
import { parseInput, parseTimeout } from "../parse-input.ts";
import { saveImages } from "../save-images.ts";

interface StreamFlags {
  readonly apiKey?: string;
  readonly input?: string;
  readonly path: string;
  readonly out?: string;
  readonly timeout?: number;
}

/** Exit code of a request that finished after non-fatal error events. */
export const EXIT_WITH_ERROR_EVENTS = 3;

export function addStreamCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
  onPrinter: (printer: EventPrinter) => void,
): void {
  program
    .command("stream")
    .description(
      "Stream a request: print each event as it arrives (JSON lines unless stdout is a terminal), save the images in them, print the final result last",
    )
    .argument("<url>", "the app's base URL, e.g. http://127.0.0.1:8000")
    .option("-i, --input <json>", "the request body, as JSON", "{}")
    .option("-p, --path <path>", "the streaming endpoint's path", "/stream")
    .option(
      "-o, --out <dir>",
      "where to save images found in events (default: the current directory)",
    )
    .option("-t, --timeout <ms>", "fail when no byte arrives for this long", parseTimeout)
    .option(...API_KEY_OPTION)
    .action(async (url: string, flags: StreamFlags) => {
      const input = parseInput(flags.input);
      const cwd = environment.cwd ?? process.cwd();
      const out = resolve(cwd, flags.out ?? ".");
      const printer = isInteractive(environment)
        ? terminalPrinter(environment.stdout)
        : jsonLinesPrinter(environment.stdout, environment.stderr);
      onPrinter(printer);
      const s = stream(url, {
        input,
        path: flags.path,
        ...apiKeyOption(flags, environment),
        ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        ...(environment.signal === undefined ? {} : { signal: environment.signal }),
      });
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
          case "done":
            printer.done(await show(event.data));
            break;
        }
      }
      setExit(errors > 0 ? EXIT_WITH_ERROR_EVENTS : 0);
    });
}
