/**
 * Serves the parallel-preview app with two ranks; open the printed URL for the playground and
 * watch the preview grid sharpen. `PORT` and `HOST` override 8000 and 127.0.0.1; Ctrl-C stops it
 * and its ranks. `npm start` runs this file.
 */
import { serve } from "../../src/app/index.ts";
import ParallelPreviewApp from "./app.ts";

const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? "127.0.0.1";
const server = await serve(ParallelPreviewApp, { port, host, handleSignals: true });
console.log(`Serving the parallel-preview playground on ${server.url}`);
