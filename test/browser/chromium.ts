import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

/** Debian's chromium; CI installs it. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Starts headless Chromium, with `extraArgs` after the usual flags (`--host-resolver-rules`, say).
 * Fails (never skips) when it is not installed, so a machine without it cannot pass these tests
 * by not running them.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `The browser tests drive a real Chromium at ${CHROMIUM_PATH}, which is missing: install it (Debian: apt-get install chromium)`,
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      ...extraArgs,
    ],
  });
}

/**
 * A new page that records its uncaught errors and console errors, for `expect(errors).toEqual([])`.
 * Chromium's own "Failed to load resource" line for a 4xx/5xx answer is not the page's error.
 */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  // Fail with Playwright's message (what it waited for) before the test runner's timeout.
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      errors.push(`console.error: ${message.text()}`);
    }
  });
  return { page, errors };
}
