import { ErrorCode } from "../errors.ts";
import { type PublicError, readPublicError } from "../events/public-error.ts";
import { ConnectionError, HttpError } from "./errors.ts";
import { SseHeader } from "./wire.ts";

/** The request id the server put on its answer, if any. */
export function responseRequestId(response: Response): string | undefined {
  return response.headers.get(SseHeader.requestId) ?? undefined;
}

/** The resume token a stream's answer carried: resuming and cancelling the request need it. */
export function responseResumeToken(response: Response): string | undefined {
  return response.headers.get(SseHeader.resumeToken) ?? undefined;
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

/** The typed error for a non-2xx answer with the body `{"error":<public error>}`. */
export async function httpError(response: Response, fallbackId?: string): Promise<HttpError> {
  return httpErrorOf(response, await bodyText(response), { fallbackId });
}

/** The body's text; `""` when it broke off (the status still says what happened). */
export async function bodyText(response: Response): Promise<string> {
  try {
    return await response.text();
  } catch {
    return "";
  }
}

/**
 * {@link httpError} for an answer whose body has been read as `text`. Its `requestId` is
 * `ids.requestId` when given (a queue call names the queued request, not the HTTP request the
 * server answered), else the one the server named, else `ids.fallbackId`.
 */
export function httpErrorOf(
  response: Response,
  text: string,
  ids: { readonly requestId?: string | undefined; readonly fallbackId?: string | undefined } = {},
): HttpError {
  const error = parseErrorBody(text);
  const requestId =
    ids.requestId ?? error?.requestId ?? responseRequestId(response) ?? ids.fallbackId;
  const detail = error?.message ?? (text.trim().slice(0, 200) || response.statusText);
  return new HttpError(
    error?.code ?? ErrorCode.HTTP_ERROR,
    `HTTP ${response.status}${detail ? `: ${detail}` : ""}`,
    {
      status: response.status,
      ...(requestId === undefined ? {} : { requestId }),
      ...(error?.issues === undefined ? {} : { issues: error.issues }),
      ...(error?.rank === undefined ? {} : { rank: error.rank }),
      ...(error === undefined ? {} : { remoteName: error.name }),
    },
  );
}

/** The body's `error`, or `undefined` when the body is not troupe's error JSON. */
export function parseErrorBody(text: string): PublicError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (error === null || typeof error !== "object") return undefined;
  return readPublicError(error, ErrorCode.HTTP_ERROR);
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}
