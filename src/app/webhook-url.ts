/**
 * The `fal_webhook` a request is submitted with, checked at submission (the queue's route), so
 * that a URL no delivery could ever reach is a 400 then rather than a webhook that fails later.
 */
import { ErrorCode, type TroupeErrorOptions } from "../errors.ts";
import { HttpError } from "./errors.ts";

/** 400: a `fal_webhook` that is not an http(s) URL, or that carries a user name or password. */
export class InvalidWebhookUrlError extends HttpError {
  override name = "InvalidWebhookUrlError";
  constructor(message: string, options?: TroupeErrorOptions) {
    super(400, ErrorCode.INVALID_WEBHOOK_URL, message, options);
  }
}

/**
 * Refuses, at submission, a webhook URL that could never be delivered to: one that does not
 * parse, is not `http:` or `https:`, or holds credentials (`fetch` refuses those).
 */
export function checkWebhookUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    throw new InvalidWebhookUrlError(
      `Expected fal_webhook to be an http(s) URL, got ${JSON.stringify(url.slice(0, 200))}`,
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new InvalidWebhookUrlError("Expected fal_webhook to carry no user name or password");
  }
}
