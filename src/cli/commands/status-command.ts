import type { Command } from "commander";
import { type QueueStatus, status, statusStream } from "../../client/index.ts";
import { API_KEY_OPTION } from "../api-key.ts";
import { type CliEnvironment, isInteractive } from "../environment.ts";
import { APP_ID_OPTION, type QueueFlags, queueCallOptions } from "../queue-call.ts";

interface StatusFlags extends QueueFlags {
  readonly logs?: boolean;
  readonly watch?: boolean;
}

export function addStatusCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("status")
    .description(
      "Print a queued request's status (JSON lines unless stdout is a terminal); with --watch, each change until it completes",
    )
    .argument("<url>", "the app's base URL, e.g. http://127.0.0.1:8000")
    .argument("<request-id>", "the id troupe submit printed")
    .requiredOption(...APP_ID_OPTION)
    .option("-l, --logs", "include the request's logs")
    .option("-w, --watch", "print each change of the status until the request completes")
    .option(...API_KEY_OPTION)
    .action(async (url: string, requestId: string, flags: StatusFlags) => {
      const options = { ...queueCallOptions(flags, environment), logs: flags.logs === true };
      const print = statusPrinter(environment);
      if (flags.watch === true) {
        for await (const current of statusStream(url, flags.appId, requestId, options)) {
          print(current);
        }
      } else {
        print(await status(url, flags.appId, requestId, options));
      }
      setExit(0);
    });
}

/**
 * Prints statuses: for a person, one line each (position, state, how it ended) with the log
 * lines not shown yet; for a program, each as a JSON line, in troupe/client's names.
 */
function statusPrinter(environment: CliEnvironment): (current: QueueStatus) => void {
  const { stdout } = environment;
  if (!isInteractive(environment)) {
    return ({ raw: _, ...current }) => stdout.write(`${JSON.stringify(current)}\n`);
  }
  let logsShown = 0;
  return (current) => {
    for (const log of current.logs?.slice(logsShown) ?? []) {
      stdout.write(`  [${log.level}] ${log.message}\n`);
    }
    logsShown = Math.max(logsShown, current.logs?.length ?? 0);
    stdout.write(`${current.requestId} ${describeStatus(current)}\n`);
  };
}

function describeStatus(current: QueueStatus): string {
  switch (current.status) {
    case "IN_QUEUE":
      return `IN_QUEUE: ${current.queuePosition === 0 ? "next in line" : `${current.queuePosition} ahead`}`;
    case "IN_PROGRESS":
      return "IN_PROGRESS";
    case "COMPLETED": {
      if (current.errorType !== undefined) {
        return `COMPLETED with ${current.errorType}: ${current.error ?? ""}`.trimEnd();
      }
      const seconds = current.metrics.inferenceTime;
      return seconds === null ? "COMPLETED" : `COMPLETED in ${seconds} s`;
    }
  }
}
