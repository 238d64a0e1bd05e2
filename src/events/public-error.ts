/**
 * The one form in which an error leaves the server: in a stream's `error` event (both dialects)
 * and in a non-2xx JSON body. It says what failed and where, never how: no stack, no cause chain,
 * no file path (those go to the server's log). Browser-safe; the client reads it back with
 * {@link readPublicError}.
 */
import { ErrorCode, TroupeError } from "../errors.ts";

/** One problem found in a request body: where (`a.b.0`; `""` for the body itself) and what. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** An error as the wire carries it. */
export interface PublicError {
  /** The error's class name on the server (`WorkerCallError`, …). */
  readonly name: string;
  /** A code of {@link ErrorCode}, or a foreign error's own string code. */
  readonly code: string;
  readonly message: string;
  /** The rank the failure concerns, when it concerns one. */
  readonly rank?: number;
  readonly requestId?: string;
  /** What failed validation (`VALIDATION_FAILED`). */
  readonly issues?: readonly ValidationIssue[];
}

/** The public form of any thrown value; `requestId` is the request it failed. */
export function publicError(error: unknown, requestId?: string): PublicError {
  const e = error instanceof Error ? error : undefined;
  const rank = (e as { rank?: unknown } | undefined)?.rank;
  const issues = (e as { issues?: unknown } | undefined)?.issues;
  return {
    name: e?.name ?? "Error",
    code: codeOf(e),
    message: scrub(e === undefined ? String(error) : e.message),
    ...(typeof rank === "number" ? { rank } : {}),
    ...(requestId === undefined ? {} : { requestId }),
    ...(Array.isArray(issues) ? { issues: issues.map(issue) } : {}),
  };
}

/** The body's `error` as a {@link PublicError}, filling what a foreign or broken body lacks. */
export function readPublicError(value: unknown, fallbackCode: string): PublicError {
  const v = (value !== null && typeof value === "object" ? value : {}) as Record<string, unknown>;
  return {
    name: typeof v.name === "string" ? v.name : "Error",
    code: typeof v.code === "string" ? v.code : fallbackCode,
    message: typeof v.message === "string" ? v.message : "The request failed",
    ...(typeof v.rank === "number" ? { rank: v.rank } : {}),
    ...(typeof v.requestId === "string" ? { requestId: v.requestId } : {}),
    ...(Array.isArray(v.issues) ? { issues: v.issues.map(issue) } : {}),
  };
}

function codeOf(error: Error | undefined): string {
  if (TroupeError.isInstance(error)) return error.code;
  if (error?.name === "AbortError") return ErrorCode.ABORTED;
  // A foreign error's own string code (a Node.js system error's ENOENT, a remote one's code).
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^[A-Z][A-Z0-9_]*$/.test(code) ? code : ErrorCode.INTERNAL;
}

function issue(value: unknown): ValidationIssue {
  const v = (value ?? {}) as { path?: unknown; message?: unknown };
  return {
    path: typeof v.path === "string" ? v.path : "",
    message: typeof v.message === "string" ? scrub(v.message) : "",
  };
}

/** A stack trace appended to a message, and absolute paths of source files in it. */
const STACK = /\n\s+at [\s\S]*$/;
const SOURCE_PATH =
  /(?:file:\/\/)?(?:[A-Za-z]:)?(?:[\\/][^\s\\/:'"`()]+){2,}\.(?:[cm]?[jt]sx?|node|json|py|so)(?::\d+){0,2}/g;

/** The message without a stack trace or a source file's path (they stay in the server's log). */
function scrub(message: string): string {
  return message.replace(STACK, "").replace(SOURCE_PATH, "<file>");
}
