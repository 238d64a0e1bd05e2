/**
 * Serves `client-browser.html` and forwards its `POST /stream` to the app, so the page and the
 * stream share an origin: troupe's server sends no CORS headers, so a page opened from a file or
 * another origin cannot POST JSON to it. Run it beside `main.ts`:
 * `npx tsx examples/basic-streaming/page-server.ts`, then open http://127.0.0.1:8080/
 * (`PAGE_PORT`, and `PORT` for the app, as for the server).
 */
import { readFile } from "node:fs/promises";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

export interface PageServer extends AsyncDisposable {
  /** Where the page is: open `${url}/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the page on `port` (0 picks one) and forwards every other request to `app`. */
export async function servePage(options: {
  readonly app: string;
  readonly port?: number;
}): Promise<PageServer> {
  const page = await readFile(new URL("./client-browser.html", import.meta.url));
  const server = createServer((request, response) => {
    if (
      request.method === "GET" &&
      (request.url === "/" || request.url === "/client-browser.html")
    ) {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
      return;
    }
    const { host: _host, ...headers } = request.headers;
    const upstream = httpRequest(
      new URL(request.url ?? "/", options.app),
      { method: request.method, headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => {
      if (!response.headersSent) response.writeHead(502, { "content-type": "text/plain" });
      response.end(`The app at ${options.app} did not answer: ${error.message}`);
    });
    // A browser that leaves closes the app's stream too, which cancels the request on every rank.
    response.on("close", () => upstream.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 8080, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url, close, [Symbol.asyncDispose]: close };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const app = `http://127.0.0.1:${process.env.PORT ?? 8000}`;
  const { url } = await servePage({ app, port: Number(process.env.PAGE_PORT ?? 8080) });
  console.log(`Open ${url}/ (it streams from the app at ${app})`);
}
