/**
 * The URL an `<img src>` may be given for `url`, or `undefined` when it must not be shown: only
 * `data:image/…`, `blob:` and http(s) URLs. A result is data from the endpoint, so a
 * `javascript:` or `data:text/html` URL in it is refused rather than handed to the browser.
 * A relative URL is resolved against `base` (the page's address).
 */
export function safeImageUrl(url: string, base: string): string | undefined {
  // Matched on the raw text: a data URL stays as sent, however long.
  if (/^data:image\//i.test(url)) return url;
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch {
    return undefined;
  }
  return SAFE_PROTOCOLS.has(parsed.protocol) ? parsed.href : undefined;
}

const SAFE_PROTOCOLS: ReadonlySet<string> = new Set(["http:", "https:", "blob:"]);
