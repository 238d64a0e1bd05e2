import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidArgumentError } from "../errors.ts";

/**
 * The keys in `--api-key-file`'s file: one a line, blank lines and lines starting with `#`
 * skipped, spaces around a key trimmed. A file that cannot be read or holds no key is refused:
 * a server started with no key would be open to all, which is not what the flag asked for.
 */
export function readApiKeyFile(file: string, cwd: string): string[] {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, file), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (code ?? (error as Error).message);
    throw new InvalidArgumentError(`Could not read the API key file ${file}: ${why}`, {
      cause: error,
    });
  }
  const keys = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (keys.length === 0) {
    throw new InvalidArgumentError(
      `The API key file ${file} holds no key (one key a line; blank lines and # comments are skipped)`,
    );
  }
  return keys;
}
