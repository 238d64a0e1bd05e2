import { resolve } from "node:path";
import type { Command } from "commander";
import { stream } from "../../client/index.ts";
import { API_KEY_OPTION, apiKeyOption } from "../api-key.ts";
import type { CliEnvironment } from "../environment.ts";
import { type EventPrinter, eventPrinter } from "../event-printer.ts";
import { parseInput, parseTimeout } from "../parse-input.ts";
import { OUT_OPTION, printEvents } from "../print-events.ts";

interface StreamFlags {
  readonly apiKey?: string;
  readonly input?: string;
  readonly path: string;
  readonly out?: string;
  readonly timeout?: number;
}

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
    .option(...OUT_OPTION)
    .option("-t, --timeout <ms>", "fail when no byte arrives for this long", parseTimeout)
    .option(...API_KEY_OPTION)
    .action(async (url: string, flags: StreamFlags) => {
      const input = parseInput(flags.input);
      const cwd = environment.cwd ?? process.cwd();
      const out = resolve(cwd, flags.out ?? ".");
      const printer = eventPrinter(environment);
      onPrinter(printer);
      const s = stream(url, {
        input,
        path: flags.path,
        ...apiKeyOption(flags, environment),
        ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        ...(environment.signal === undefined ? {} : { signal: environment.signal }),
      });
      setExit(await printEvents(s, printer, out));
    });
}
