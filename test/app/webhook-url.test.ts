import { describe, expect, it } from "vitest";
import { checkWebhookUrl, InvalidWebhookUrlError } from "../../src/app/webhook-url.ts";
import { ErrorCode } from "../../src/errors.ts";

describe("checkWebhookUrl", () => {
  it.each(["http://example.com/hook", "https://example.com:8443/hook?token=a"])(
    "accepts %s",
    (url) => {
      expect(() => checkWebhookUrl(url)).not.toThrow();
    },
  );

  it.each([
    ["ftp://example.com/hook", "Expected fal_webhook to be an http(s) URL"],
    ["javascript:alert(1)", "Expected fal_webhook to be an http(s) URL"],
    ["not a url", 'Expected fal_webhook to be an http(s) URL, got "not a url"'],
    [
      "https://user:hunter2@example.com/hook",
      "Expected fal_webhook to carry no user name or password",
    ],
  ])("refuses %s with a 400 INVALID_WEBHOOK_URL", (url, message) => {
    let thrown: unknown;
    try {
      checkWebhookUrl(url);
    } catch (error) {
      thrown = error;
    }
    expect(InvalidWebhookUrlError.isInstance(thrown)).toBe(true);
    expect(thrown).toMatchObject({ status: 400, code: ErrorCode.INVALID_WEBHOOK_URL });
    expect((thrown as Error).message).toContain(message);
    expect((thrown as Error).message).not.toContain("hunter2");
  });
});
