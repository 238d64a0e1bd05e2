import { type DestinationStream, type LevelWithSilent, type Logger, pino } from "pino";
import { InvalidArgumentError } from "../errors.ts";
import type { Output } from "./environment.ts";

/** The levels `--log-level` takes: pino's. */
export const LOG_LEVELS: readonly LevelWithSilent[] = [
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
];

/** How `troupe run` writes its logs: a line for a person, or pino's JSON line for a program. */
export type LogFormat = "pretty" | "json";

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** The fields a pretty line shows, in this order; the rest stay in the JSON format only. */
const SHOWN_FIELDS = [
  "reqId",
  "method",
  "url",
  "route",
  "status",
  "ms",
  "outcome",
  "code",
  "rank",
  "signal",
] as const;

/** `--log-level`'s value, or a message naming the levels. */
export function parseLogLevel(text: string): LevelWithSilent {
  const level = text.toLowerCase() as LevelWithSilent;
  if (!LOG_LEVELS.includes(level)) {
    throw new InvalidArgumentError(
      `Expected --log-level to be one of ${LOG_LEVELS.join(", ")}, got ${text}`,
    );
  }
  return level;
}

/** `--log-format`'s value: `pretty` or `json`. */
export function parseLogFormat(text: string): LogFormat {
  if (text !== "pretty" && text !== "json") {
    throw new InvalidArgumentError(`Expected --log-format to be pretty or json, got ${text}`);
  }
  return text;
}

/** pino at `level`, writing to `output` JSON lines, or {@link prettyLine}s. */
export function cliLogger(level: LevelWithSilent, format: LogFormat, output: Output): Logger {
  const destination: DestinationStream =
    format === "json" ? (output as DestinationStream) : prettyDestination(output);
  return pino({ name: "troupe", level }, destination);
}

/**
 * A pino destination that writes each JSON line it is given as a {@link prettyLine}. pino hands
 * a destination one whole line per write; several are split, in case.
 */
export function prettyDestination(output: Output): DestinationStream {
  return {
    write(text: string) {
      for (const line of text.split("\n")) if (line !== "") output.write(prettyLine(line));
    },
  };
}

/**
 * One pino JSON line for a person: `12:34:56.789 INFO  request completed reqId=… status=200`,
 * the local time, the level, the message, the fields that matter, and an error's message (and
 * its stack's frames, indented, below). A line that is not pino's JSON is passed on as it is.
 */
export function prettyLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${line}\n`;
  }
  if (record === null || typeof record !== "object") return `${line}\n`;
  const level = LEVEL_NAMES[record.level as number] ?? String(record.level ?? "");
  const parts = [clock(record.time), level.padEnd(5), String(record.msg ?? "")];
  for (const field of SHOWN_FIELDS) {
    const value = record[field];
    if (value !== undefined) parts.push(`${field}=${show(field === "ms" ? round(value) : value)}`);
  }
  const err = record.err as { message?: unknown; stack?: unknown } | undefined;
  if (err !== undefined && err !== null && typeof err === "object") {
    if (err.message !== undefined && err.message !== record.msg) {
      parts.push(`err=${show(err.message)}`);
    }
    if (typeof err.stack === "string") {
      // The stack's first line repeats the message shown above.
      const frames = err.stack.split("\n").filter((l) => /^\s+at /.test(l));
      return `${parts.join(" ")}\n${frames.map((f) => `    ${f.trim()}\n`).join("")}`;
    }
  }
  return `${parts.join(" ")}\n`;
}

function clock(time: unknown): string {
  const date = typeof time === "number" ? new Date(time) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) return "--:--:--.---";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

function round(value: unknown): unknown {
  return typeof value === "number" ? Math.round(value * 10) / 10 : value;
}

/** A value as `key=` shows it: bare when it has no space or quote, JSON otherwise. */
function show(value: unknown): string {
  return typeof value === "string" && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}
