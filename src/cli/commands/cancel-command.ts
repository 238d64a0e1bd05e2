import type { Command } from "commander";
import { cancel } from "../../client/index.ts";
import { API_KEY_OPTION } from "../api-key.ts";
import type { CliEnvironment } from "../environment.ts";
import { APP_ID_OPTION, type QueueFlags, queueCallOptions } from "../queue-call.ts";

export function addCancelCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("cancel")
    .description(
      "Cancel a queued request: print CANCELLATION_REQUESTED, or ALREADY_COMPLETED for one that had ended",
    )
    .argument("<url>", "the app's base URL, e.g. http://127.0.0.1:8000")
    .argument("<request-id>", "the id troupe submit printed")
    .requiredOption(...APP_ID_OPTION)
    .option(...API_KEY_OPTION)
    .action(async (url: string, requestId: string, flags: QueueFlags) => {
      const outcome = await cancel(
        url,
        flags.appId,
        requestId,
        queueCallOptions(flags, environment),
      );
      environment.stdout.write(`${outcome}\n`);
      setExit(0);
    });
}
