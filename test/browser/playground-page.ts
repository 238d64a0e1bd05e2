import type { Browser, Page } from "playwright-core";
import { openPage } from "./chromium.ts";

/** The playground at `origin` with `path` selected, once it has read the app's endpoints. */
export async function openPlayground(
  browser: Browser,
  origin: string,
  path: string,
): Promise<{ page: Page; errors: string[] }> {
  const opened = await openPage(browser);
  await opened.page.goto(`${origin}/?endpoint=${encodeURIComponent(path)}`);
  await opened.page.locator("html[data-ready=true]").waitFor();
  return opened;
}

/**
 * Waits until the run ends, however it ends, and says how: "done", "failed" or "cancelled", and
 * what the error panel shows, so `expect(run.status, run.error).toBe("done")` explains a failure.
 */
export async function settled(page: Page): Promise<{ status: string; error: string }> {
  const status = page.locator(
    "[data-testid=status]:is([data-status=done], [data-status=failed], [data-status=cancelled])",
  );
  await status.waitFor();
  const error = page.getByTestId("error");
  return {
    status: (await status.getAttribute("data-status")) ?? "",
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's, laid out as the user reads it
    error: (await error.isVisible()) ? await error.innerText() : "",
  };
}
