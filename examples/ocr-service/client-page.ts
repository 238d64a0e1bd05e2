/**
 * Serves `client.html`, the OCR service's browser client, on its own port. The page calls the
 * app cross-origin, so the app is served with `cors: { origin: <this page's origin> }`; the page
 * finds the app from its `?app=` query (default http://127.0.0.1:8000).
 */
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface ClientPage extends AsyncDisposable {
  /** This server's origin, `http://host:port`. */
  readonly url: string;
  /** The page's URL for the app at `app`. */
  pageFor(app: string): string;
  close(): Promise<void>;
}

/** Serves the page at `/` on `port` (0 picks one). */
export async function serveClientPage(
  options: { readonly port?: number; readonly host?: string } = {},
): Promise<ClientPage> {
  const html = await readFile(new URL("./client.html", import.meta.url));
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://page").pathname;
    if (request.method !== "GET" || (path !== "/" && path !== "/client.html")) {
      response.writeHead(404, { "content-type": "text/plain" }).end("Not found");
      return;
    }
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(options.port ?? 8001, host, resolve));
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url,
    pageFor: (app) => `${url}/?app=${encodeURIComponent(app)}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
