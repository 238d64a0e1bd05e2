/**
 * The checks a decoded message passes before either side acts on it: each field of each message
 * type, with a ProtocolError naming what is wrong. Results frames are well-formed by construction
 * and pass through.
 */
import type { ImageFormat } from "../encoding/image.ts";
import { ProtocolError, type SerializedError } from "../errors.ts";
import type { LogLevel, RankMessage, RunnerMessage } from "./messages.ts";
import { DecodedResults } from "./results-frame.ts";

const IMAGE_FORMATS: ReadonlySet<string> = new Set(["jpeg", "png", "webp"]);
const LOG_LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

/** Checks that a decoded value is a well-formed {@link RankMessage}; throws ProtocolError if not. */
export function parseRankMessage(value: unknown): RankMessage {
  if (value instanceof DecodedResults) return value;
  const m = asRecord(value);
  switch (m.t) {
    case "ready":
    case "stopped":
      return { t: m.t };
    case "setupFailed":
      return { t: "setupFailed", error: errorField(m, "error") };
    case "results": {
      const items = m.items;
      if (!Array.isArray(items) || !items.every((item) => item instanceof Uint8Array)) {
        throw bad(m, "`items` must be an array of byte arrays");
      }
      const keys = m.keys;
      if (keys !== undefined) {
        if (
          !Array.isArray(keys) ||
          keys.length !== items.length ||
          !keys.every((k) => k === null || typeof k === "string")
        ) {
          throw bad(m, "`keys` must be an array of strings or nulls, one per item");
        }
        return { t: "results", id: idField(m), items, keys };
      }
      return { t: "results", id: idField(m), items };
    }
    case "started":
      return { t: "started", id: idField(m) };
    case "streamError":
      return { t: "streamError", id: idField(m), error: errorField(m, "error") };
    case "done":
      if (!(m.output instanceof Uint8Array)) throw bad(m, "`output` must be bytes");
      return { t: "done", id: idField(m), output: m.output };
    case "failed":
      if (typeof m.aborted !== "boolean") throw bad(m, "`aborted` must be a boolean");
      return { t: "failed", id: idField(m), error: errorField(m, "error"), aborted: m.aborted };
    case "output":
      if ((m.stream !== "stdout" && m.stream !== "stderr") || typeof m.text !== "string") {
        throw bad(m, "`stream` and `text` must be stdout or stderr and a string");
      }
      return { t: "output", stream: m.stream, text: m.text };
    case "log":
      if (typeof m.level !== "string" || !LOG_LEVELS.has(m.level) || typeof m.msg !== "string") {
        throw bad(m, "`level` and `msg` must be a log level and a string");
      }
      return { t: "log", level: m.level as LogLevel, msg: m.msg };
    default:
      throw new ProtocolError(`Unknown message type ${JSON.stringify(m.t)} from a rank`);
  }
}

/** Checks that a decoded value is a well-formed {@link RunnerMessage}; throws ProtocolError if not. */
export function parseRunnerMessage(value: unknown): RunnerMessage {
  const m = asRecord(value);
  switch (m.t) {
    case "init": {
      if (m.config === null || typeof m.config !== "object")
        throw bad(m, "`config` must be an object");
      const config = m.config as Record<string, unknown>;
      if (typeof m.worker !== "string") throw bad(m, "`worker` must be a string");
      if (
        typeof config.streamAllRanks !== "boolean" ||
        typeof config.maxPendingBytes !== "number" ||
        typeof config.highWaterMark !== "number" ||
        typeof config.collectiveTimeout !== "number"
      ) {
        throw bad(m, "`config` is incomplete");
      }
      return {
        t: "init",
        worker: m.worker,
        setup: m.setup,
        config: {
          streamAllRanks: config.streamAllRanks,
          maxPendingBytes: config.maxPendingBytes,
          highWaterMark: config.highWaterMark,
          collectiveTimeout: config.collectiveTimeout,
        },
      };
    }
    case "call":
      if (typeof m.requestId !== "string" || typeof m.streaming !== "boolean") {
        throw bad(m, "`requestId` and `streaming` must be a string and a boolean");
      }
      if (typeof m.held !== "boolean") throw bad(m, "`held` must be a boolean");
      if (!(m.payload instanceof Uint8Array)) throw bad(m, "`payload` must be bytes");
      if (!IMAGE_FORMATS.has(m.imageFormat as string)) {
        throw bad(m, "`imageFormat` must be jpeg, png or webp");
      }
      return {
        t: "call",
        id: idField(m),
        requestId: m.requestId,
        payload: m.payload,
        streaming: m.streaming,
        imageFormat: m.imageFormat as ImageFormat,
        held: m.held,
      };
    case "go":
      return { t: "go", id: idField(m) };
    case "cancel":
      return { t: "cancel", id: idField(m), reason: errorField(m, "reason") };
    case "stop":
      return { t: "stop" };
    default:
      throw new ProtocolError(`Unknown message type ${JSON.stringify(m.t)} from the runner`);
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolError(`Expected a message object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function idField(m: Record<string, unknown>): number {
  if (typeof m.id !== "number" || !Number.isSafeInteger(m.id) || m.id < 1) {
    throw bad(m, "`id` must be a positive integer");
  }
  return m.id;
}

function errorField(m: Record<string, unknown>, key: string): SerializedError {
  const e = m[key];
  if (e === null || typeof e !== "object") throw bad(m, `\`${key}\` must be an error object`);
  const r = e as Record<string, unknown>;
  if (typeof r.name !== "string" || typeof r.message !== "string") {
    throw bad(m, `\`${key}\` must have a string name and message`);
  }
  return r as unknown as SerializedError;
}

function bad(m: Record<string, unknown>, problem: string): ProtocolError {
  return new ProtocolError(`Malformed ${JSON.stringify(m.t)} message: ${problem}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
