import type { Command } from "commander";
import { result } from "../../client/index.ts";
import { API_KEY_OPTION } from "../api-key.ts";
import { type CliEnvironment, isInteractive } from "../environment.ts";
import { APP_ID_OPTION, type QueueFlags, queueCallOptions } from "../queue-call.ts";

export function addResultCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("result")
    .description(
      "Print a completed queued request's JSON result; a failed request is its error, exit 1",
    )
    .argument("<url>", "the app's base URL, e.g. http://127.0.0.1:8000")
    .argument("<request-id>", "the id troupe submit printed")
    .requiredOption(...APP_ID_OPTION)
    .option(...API_KEY_OPTION)
    .action(async (url: string, requestId: string, flags: QueueFlags) => {
      const output = await result(
        url,
        flags.appId,
        requestId,
        queueCallOptions(flags, environment),
      );
      const pretty = isInteractive(environment);
      environment.stdout.write(`${JSON.stringify(output, null, pretty ? 2 : undefined)}\n`);
      setExit(0);
    });
}
