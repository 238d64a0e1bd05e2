import type { CliEnvironment } from "./environment.ts";

/** The environment variable a client command reads its key from when `--api-key` is not given. */
export const API_KEY_ENV = "TROUPE_API_KEY";

/** `--api-key <key>`, for `.option(...API_KEY_OPTION)` on a command that calls a server. */
export const API_KEY_OPTION = [
  "-k, --api-key <key>",
  `the server's API key, sent as Authorization: Key <key> (default: $${API_KEY_ENV})`,
] as const;

/**
 * The key to send, as `troupe/client`'s `apiKey` option to spread into a call's options: the
 * flag, else `TROUPE_API_KEY`, else none.
 */
export function apiKeyOption(
  flags: { readonly apiKey?: string },
  environment: CliEnvironment,
): { apiKey?: string } {
  const key = flags.apiKey ?? environment.env[API_KEY_ENV];
  return key === undefined || key === "" ? {} : { apiKey: key };
}
