import type { Command } from "commander";
import { run } from "../../client/index.ts";
import { API_KEY_OPTION, apiKeyOption } from "../api-key.ts";
import { type CliEnvironment, isInteractive } from "../environment.ts";
import { parseInput } from "../parse-input.ts";

interface CallFlags {
  readonly apiKey?: string;
  readonly input?: string;
  readonly path: string;
}

export function addCallCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("call")
    .description("Call an endpoint and print its JSON result")
    .argument("<url>", "the app's base URL, e.g. http://127.0.0.1:8000")
    .option("-i, --input <json>", "the request body, as JSON", "{}")
    .option("-p, --path <path>", "the endpoint's path", "/")
    .option(...API_KEY_OPTION)
    .action(async (url: string, flags: CallFlags) => {
      const input = parseInput(flags.input);
      const result = await run(url, {
        input,
        path: flags.path,
        ...apiKeyOption(flags, environment),
        ...(environment.signal === undefined ? {} : { signal: environment.signal }),
      });
      const pretty = isInteractive(environment);
      environment.stdout.write(`${JSON.stringify(result, null, pretty ? 2 : undefined)}\n`);
      setExit(0);
    });
}
