import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { type QueuePriority, streamQueued, submit } from "../../client/index.ts";
import { InvalidArgumentError, isAbortError } from "../../errors.ts";
import { API_KEY_OPTION } from "../api-key.ts";
import { type CliEnvironment, isInteractive } from "../environment.ts";
import { type EventPrinter, eventPrinter } from "../event-printer.ts";
import { ExitCode } from "../exit-code.ts";
import { parseInput } from "../parse-input.ts";
import { OUT_OPTION, printEvents } from "../print-events.ts";
import { APP_ID_OPTION, type QueueFlags, queueCallOptions } from "../queue-call.ts";

interface SubmitFlags extends QueueFlags {
  readonly input?: string;
  readonly inputFile?: string;
  readonly path: string;
  readonly priority?: QueuePriority;
  readonly timeout?: number;
  readonly webhook?: string;
  readonly follow?: boolean;
  readonly out?: string;
}

export function addSubmitCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
  onPrinter: (printer: EventPrinter) => void,
): void {
  program
    .command("submit")
    .description(
      "Put a request in the app's queue and print its id; with --follow, print its events as they come, as troupe stream does",
    )
    .argument("<url>", "the app's base URL, e.g. http://127.0.0.1:8000")
    .requiredOption(...APP_ID_OPTION)
    .option("-i, --input <json>", "the request body, as JSON (default: {})")
    .option("--input-file <file>", "read the request body from this JSON file instead")
    .option("-p, --path <path>", "the endpoint's path", "/")
    .addOption(
      new Option("--priority <priority>", "the request's queue priority (default: normal)").choices(
        ["normal", "low"],
      ),
    )
    .option(
      "--timeout <seconds>",
      "fail the request this many seconds after submission, waiting included",
      parseSeconds,
    )
    .option("--webhook <url>", "POST the request's outcome to this URL when it completes")
    .option("-f, --follow", "print the request's events until it completes")
    .option(...OUT_OPTION)
    .option(...API_KEY_OPTION)
    .action(async (url: string, flags: SubmitFlags) => {
      const cwd = environment.cwd ?? process.cwd();
      const input = readInput(flags, cwd);
      const call = queueCallOptions(flags, environment);
      const submitted = await submit(url, flags.appId, input, {
        ...call,
        path: flags.path,
        ...(flags.priority === undefined ? {} : { priority: flags.priority }),
        ...(flags.timeout === undefined ? {} : { timeout: flags.timeout }),
        ...(flags.webhook === undefined ? {} : { webhookUrl: flags.webhook }),
      });
      const { requestId, queuePosition } = submitted;
      const { stdout } = environment;
      if (flags.follow !== true) {
        stdout.write(`${requestId}\n`);
        setExit(0);
        return;
      }
      stdout.write(
        isInteractive(environment)
          ? `submitted ${requestId}: ${queuePosition === 0 ? "next in line" : `${queuePosition} ahead`}\n`
          : `${JSON.stringify({ type: "submitted", requestId, queuePosition })}\n`,
      );
      const printer = eventPrinter(environment);
      onPrinter(printer);
      try {
        setExit(
          await printEvents(
            streamQueued(url, flags.appId, requestId, call),
            printer,
            resolve(cwd, flags.out ?? "."),
          ),
        );
      } catch (error) {
        if (!isAbortError(error)) throw error;
        // Following is all that stops: the request is the queue's now.
        printer.close();
        environment.stderr.write(
          `troupe: stopped following ${requestId}; it goes on in the queue (troupe cancel ${url} --app-id ${flags.appId} ${requestId} cancels it)\n`,
        );
        setExit(ExitCode.interrupted);
      }
    });
}

/** `--input`'s JSON, or `--input-file`'s; `{}` without either. */
function readInput(flags: SubmitFlags, cwd: string): unknown {
  if (flags.inputFile === undefined) return parseInput(flags.input);
  if (flags.input !== undefined) {
    throw new InvalidArgumentError("Give --input or --input-file, not both");
  }
  let text: string;
  try {
    text = readFileSync(resolve(cwd, flags.inputFile), "utf8");
  } catch (error) {
    throw new InvalidArgumentError(
      `Could not read --input-file ${flags.inputFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return parseInput(text, "--input-file");
}

function parseSeconds(text: string): number {
  const seconds = Number(text);
  if (!(Number.isFinite(seconds) && seconds > 0)) {
    throw new InvalidArgumentError(
      `Expected --timeout to be a positive number of seconds, got ${text}`,
    );
  }
  return seconds;
}
