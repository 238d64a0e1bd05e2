import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { playgroundHtml } from "../../src/app/playground/index.ts";
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

/** Answers one request the stub does not serve itself; returns false for a 404. */
export type StubHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
) => boolean | Promise<boolean>;

/**
 * A hand-written HTTP server on port 0 that serves the playground page and `openapi` as a troupe
 * app would, and hands every other request to `handle`: for answers no real app sends.
 */
export async function playgroundStub(
  title: string,
  openapi: unknown,
  handle: StubHandler,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (request.method === "GET" && path === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end(playgroundHtml({ title }));
    } else if (request.method === "GET" && path === "/openapi.json") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(openapi));
    } else if (!(await handle(request, response, path))) {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
