/**
 * How a request's JSON body is read: no bytes at all is no body (`undefined`, so a body-less
 * `DELETE` sent with `content-type: application/json` reaches its route, and a `POST` gets the
 * schema's 422), a body nested deeper than the limit is refused before it is parsed, and anything
 * else is `JSON.parse`d.
 */
import { BodyTooDeepError, InvalidJsonError } from "./errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * The body's value: `undefined` for an empty one, else the parsed JSON. Throws
 * {@link BodyTooDeepError} for one nested more than `maxDepth` objects and arrays deep (checked
 * first, by a scan of the text, so neither the check nor anything after it can overflow the
 * stack), and {@link InvalidJsonError} for text that is not JSON.
 */
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.length === 0) return undefined;
  if (exceedsDepth(text, maxDepth)) {
    throw new BodyTooDeepError(
      `The request body nests objects and arrays more than ${maxDepth} levels deep, the most this server accepts (maxBodyDepth)`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError(`The request body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * `true` when `text` opens more than `maxDepth` brackets or braces that are not closed yet at some
 * point, strings skipped. A loop over the text, no recursion: a body of 100,000 `[` is answered
 * as soon as the scan passes `maxDepth` of them. Text that is not JSON may be scanned wrongly;
 * `JSON.parse` then refuses it.
 */
export function exceedsDepth(text: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      if (i < 0) return false;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--;
    }
  }
  return false;
}

/** The index of the quote that closes the string opening at `open`; -1 when none does. */
function closingQuote(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    // Escaped when an odd number of backslashes precede it; each is counted once, since the
    // count stops at the previous quote at the latest.
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
}
