import { z } from "zod";
import { SSE_CONTENT_TYPE } from "../events/sse-names.ts";
import type { EndpointDefinition } from "./endpoint.ts";

/** The OpenAPI extension that marks an operation whose response is an SSE stream. */
export const STREAMING_EXTENSION = "x-troupe-streaming";

const errorResponse = {
  description: "Error",
  content: {
    "application/json": {
      schema: {
        type: "object",
        properties: {
          error: {
            type: "object",
            properties: {
              name: { type: "string" },
              code: { type: "string" },
              message: { type: "string" },
              rank: { type: "integer" },
              requestId: { type: "string" },
              issues: {
                type: "array",
                items: {
                  type: "object",
                  properties: { path: { type: "string" }, message: { type: "string" } },
                },
              },
            },
            required: ["code", "message", "requestId"],
          },
          detail: {
            description: "422 only: the issues in FastAPI's form, as fal's clients read them",
            type: "array",
            items: {
              type: "object",
              properties: {
                loc: { type: "array", items: { type: ["string", "integer"] } },
                msg: { type: "string" },
                type: { type: "string" },
              },
            },
          },
        },
        required: ["error"],
      },
    },
  },
};

/**
 * The OpenAPI 3.1 document of an app: one POST operation per endpoint with its input's JSON
 * schema; streaming endpoints carry `x-troupe-streaming: true` and a `text/event-stream` response.
 */
export function openApiDocument(
  title: string,
  endpoints: readonly EndpointDefinition[],
): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const e of endpoints) {
    paths[e.path] = {
      post: {
        operationId: e.methodName,
        ...(e.summary === undefined ? {} : { summary: e.summary }),
        [STREAMING_EXTENSION]: e.streaming,
        requestBody: {
          required: true,
          content: { "application/json": { schema: inputSchema(e.input) } },
        },
        responses: {
          "200": {
            description: e.streaming ? "Server-Sent Events (docs/protocol.md)" : "The result",
            content: e.streaming
              ? { [SSE_CONTENT_TYPE]: { schema: { type: "string" } } }
              : { "application/json": { schema: {} } },
          },
          "400": errorResponse,
          "413": errorResponse,
          "415": errorResponse,
          "422": errorResponse,
          "503": errorResponse,
        },
      },
    };
  }
  return { openapi: "3.1.0", info: { title, version: "1.0.0" }, paths };
}

function inputSchema(schema: z.ZodType): unknown {
  try {
    const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
    return rest;
  } catch {
    return {};
  }
}
