import { ClientErrorCode, ConnectionError, HttpError, type ValidationIssue } from "./errors.ts";
import { SseHeader } from "./wire.ts";

/** The request id the server put on its answer, if any. */
export function responseRequestId(response: Response): string | undefined {
  return response.headers.get(SseHeader.requestId) ?? undefined;
}

/** `fetch`, with a failure to connect turned into CONNECTION_FAILED (an abort stays an abort). */
export async function send(
  fetchImpl: typeof fetch,
  url: string,
  init: RequestInit,
  requestId?: string,
): Promise<Response> {
  try {
    return await fetchImpl(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ConnectionError(`Could not reach ${url}: ${describe(error)}`, {
      cause: error,
      ...(requestId === undefined ? {} : { requestId }),
    });
  }
}

/** The typed error for a non-2xx answer with the body `{"error":{code,message,requestId,issues}}`. */
export async function httpError(response: Response, fallbackId?: string): Promise<HttpError> {
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The body broke off; the status still says what happened.
  }
  const error = parseErrorBody(text);
  const requestId = error?.requestId ?? responseRequestId(response) ?? fallbackId;
  const detail = error?.message ?? (text.trim().slice(0, 200) || response.statusText);
  return new HttpError(
    error?.code ?? ClientErrorCode.HTTP_ERROR,
    `HTTP ${response.status}${detail ? `: ${detail}` : ""}`,
    {
      status: response.status,
      ...(requestId === undefined ? {} : { requestId }),
      ...(error?.issues === undefined ? {} : { issues: error.issues }),
    },
  );
}

interface ErrorBody {
  readonly code?: string;
  readonly message?: string;
  readonly requestId?: string;
  readonly issues?: readonly ValidationIssue[];
}

function parseErrorBody(text: string): ErrorBody | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (error === null || typeof error !== "object") return undefined;
  const { code, message, requestId, issues } = error as Record<string, unknown>;
  return {
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof message === "string" ? { message } : {}),
    ...(typeof requestId === "string" ? { requestId } : {}),
    ...(Array.isArray(issues) ? { issues: issues as ValidationIssue[] } : {}),
  };
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
