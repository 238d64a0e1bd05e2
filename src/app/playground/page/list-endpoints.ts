import { isRecord } from "./is-record.ts";

/** A POST endpoint of the app, as the playground lists it. */
export interface PlaygroundEndpoint {
  readonly path: string;
  readonly summary: string;
  /** It answers with an event stream (`x-troupe-streaming`, or a `text/event-stream` answer). */
  readonly streaming: boolean;
  /** The JSON Schema of its body, if the document gives one. */
  readonly schema: unknown;
}

/** The POST endpoints of an OpenAPI document, in its order. */
export function listEndpoints(doc: unknown): PlaygroundEndpoint[] {
  const paths = isRecord(doc) && isRecord(doc.paths) ? doc.paths : {};
  const out: PlaygroundEndpoint[] = [];
  for (const [path, item] of Object.entries(paths)) {
    const operation = isRecord(item) ? item.post : undefined;
    if (!isRecord(operation)) continue;
    const ok = field(operation, "responses", "200") ?? field(operation, "responses", "default");
    const content = field(ok, "content");
    out.push({
      path,
      summary: String(operation.summary || operation.description || ""),
      streaming:
        operation["x-troupe-streaming"] === true ||
        (isRecord(content) && "text/event-stream" in content),
      schema: field(operation, "requestBody", "content", "application/json", "schema"),
    });
  }
  return out;
}

/** `value[key0][key1]…`, or `undefined` where a step is not an object. */
function field(value: unknown, ...keys: string[]): unknown {
  let at = value;
  for (const key of keys) {
    if (!isRecord(at)) return undefined;
    at = at[key];
  }
  return at;
}
