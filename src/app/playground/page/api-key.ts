import type { PageElements } from "./page-elements.ts";

/**
 * The server's API key, as the user gave it to the page. A navigation to `GET /` cannot carry an
 * `Authorization` header, so the page asks when `/openapi.json` answers 401 and then sends
 * `Authorization: Key <key>` itself. The key is kept in sessionStorage: this tab only, gone when
 * it closes, never in a cookie the browser would send on its own.
 */
const STORAGE_KEY = "troupe-playground-api-key";

/** What a key may be made of: one token of printable ASCII, as the header carries it. */
const KEY_TEXT = /^[\x21-\x7e]+$/;

/** The key kept for this tab, if any. */
export function storedApiKey(): string | undefined {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    // Storage can be off (a sandboxed frame): the user is asked again on each load.
    return undefined;
  }
}

/** Keeps `key` for this tab, or forgets the kept one. */
export function keepApiKey(key: string | undefined): void {
  try {
    if (key === undefined) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // See storedApiKey.
  }
}

/** The headers that send `key`: none without one. */
export function keyHeaders(key: string | undefined): Record<string, string> {
  return key === undefined ? {} : { authorization: `Key ${key}` };
}

/** Shows the key form with `message` and resolves with the key the user submits. */
export function askForApiKey(ui: PageElements, message: string): Promise<string> {
  ui.keyForm.hidden = false;
  ui.keyMessage.textContent = message;
  ui.keyInput.value = "";
  ui.keyInput.focus();
  return new Promise((resolve) => {
    const onSubmit = (event: SubmitEvent): void => {
      event.preventDefault();
      const key = ui.keyInput.value.trim();
      if (!KEY_TEXT.test(key)) {
        ui.keyMessage.textContent = "An API key is one word of printable characters, no spaces.";
        return;
      }
      ui.keyForm.removeEventListener("submit", onSubmit);
      ui.keyForm.hidden = true;
      resolve(key);
    };
    ui.keyForm.addEventListener("submit", onSubmit);
  });
}
