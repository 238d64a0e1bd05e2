import type { QueueCallOptions } from "../client/index.ts";
import { apiKeyOption } from "./api-key.ts";
import type { CliEnvironment } from "./environment.ts";

/** `--app-id <id>`, for `.requiredOption(...APP_ID_OPTION)` on a queue command. */
export const APP_ID_OPTION = [
  "-a, --app-id <id>",
  "the app's id on the queue, owner/alias (a server's default: local/<app class name in kebab case>)",
] as const;

/** The flags every queue command has. */
export interface QueueFlags {
  readonly appId: string;
  readonly apiKey?: string;
}

/** What every queue command hands `troupe/client`: the key (flag or `TROUPE_API_KEY`) and the signal. */
export function queueCallOptions(flags: QueueFlags, environment: CliEnvironment): QueueCallOptions {
  return {
    ...apiKeyOption(flags, environment),
    ...(environment.signal === undefined ? {} : { signal: environment.signal }),
  };
}
