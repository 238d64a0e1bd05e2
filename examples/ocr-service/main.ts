/**
 * Serves the OCR service with two ranks; POST an image to /stream (see README.md), or open the
 * printed client page URL. `PORT`, `PAGE_PORT` and `HOST` override 8000, 8001 and 127.0.0.1;
 * `BODY_LIMIT` (bytes) the largest request, and so the largest data: URL (default 16 MiB);
 * Ctrl-C stops it and its ranks.
 */
import { serve } from "../../src/app/index.ts";
import OcrApp from "./app.ts";
import { serveClientPage } from "./client-page.ts";

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? "127.0.0.1";
const page = await serveClientPage({ port: Number(process.env.PAGE_PORT ?? 8001), host });
const server = await serve(OcrApp, {
  port,
  host,
  handleSignals: true,
  bodyLimit: Number(process.env.BODY_LIMIT ?? 16 * 1024 * 1024),
  cors: { origin: page.url },
});
console.log(
  `Serving the OCR service on ${server.url}; its client page is ${page.pageFor(server.url)}`,
);
