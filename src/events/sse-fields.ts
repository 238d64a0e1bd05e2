/**
 * The field syntax of Server-Sent Events, shared by both dialects' encoders: `data:` lines, and
 * events with `event:`, `id:` and `retry:` fields.
 */

import { SSE_HEARTBEAT } from "./sse-names.ts";

const encoder = new TextEncoder();

/** The heartbeat comment, `: ping\n\n`, as both dialects write it. */
export const HEARTBEAT_BYTES = encoder.encode(SSE_HEARTBEAT);

/** `data: <json>\n\n`. `json` must be one line (JSON.stringify output always is). */
export function encodeDataEvent(json: string): Uint8Array {
  return encoder.encode(`data: ${json}\n\n`);
}

/** The fields of one event. */
export interface SseFields {
  readonly event?: string;
  readonly id?: string;
  readonly retry?: number;
  readonly data: string;
}

/** One event with any fields; multi-line `data` becomes several `data:` lines, as the spec wants. */
export function encodeEvent(fields: SseFields): Uint8Array {
  let out = "";
  if (fields.event !== undefined) out += `event: ${oneLine(fields.event)}\n`;
  if (fields.id !== undefined) out += `id: ${oneLine(fields.id)}\n`;
  if (fields.retry !== undefined) out += `retry: ${Math.trunc(fields.retry)}\n`;
  const data = fields.data;
  // JSON (nearly every event's data) has no line breaks: one `data:` line, no split.
  if (data.indexOf("\n") === -1 && data.indexOf("\r") === -1) out += `data: ${data}\n`;
  else for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return encoder.encode(`${out}\n`);
}

function oneLine(value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new TypeError(
      `SSE field values cannot hold line breaks or NUL, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
