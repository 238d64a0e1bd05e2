import { InvalidArgumentError } from "../errors.ts";

/** `--input`'s JSON (or that of the option named `flag`), or a message naming what is wrong with it. */
export function parseInput(text: string | undefined, flag = "--input"): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(
      `${flag} is not valid JSON (${error instanceof Error ? error.message : String(error)}): ${text.slice(0, 80)}`,
    );
  }
}

/** A positive integer option (`--port`), or a message naming the bad value. */
export function parsePort(text: string): number {
  const port = Number(text);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new InvalidArgumentError(`Expected --port to be a port number (0-65535), got ${text}`);
  }
  return port;
}

export function parseTimeout(text: string): number {
  const ms = Number(text);
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new InvalidArgumentError(`Expected --timeout to be a positive number of ms, got ${text}`);
  }
  return ms;
}
