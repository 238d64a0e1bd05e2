import { RequestError } from "../client/index.ts";
import { TroupeError } from "../errors.ts";

/** One line for stderr: the message, then the facts (code, status, rank, request id). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error));
  let message = error.message;
  const facts: string[] = [];
  // The error may come from another copy of troupe (an app's own, under `troupe run`).
  if (TroupeError.isInstance(error)) facts.push(error.code);
  if (error instanceof RequestError) {
    // The server's message usually names the issues already.
    const issues = error.issues ?? [];
    if (issues.length > 0 && !issues.every((i) => message.includes(i.message))) {
      message += ` [${issues.map((i) => `${i.path || "(input)"}: ${i.message}`).join("; ")}]`;
    }
    if (error.status !== undefined && error.status !== 200) facts.push(`status ${error.status}`);
  }
  if (TroupeError.isInstance(error) && error.rank !== undefined) facts.push(`rank ${error.rank}`);
  if (error instanceof RequestError && error.requestId !== undefined) {
    facts.push(`request ${error.requestId}`);
  }
  return oneLine(facts.length === 0 ? message : `${message} (${facts.join(", ")})`);
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
