/**
 * Serves the basic-streaming app: two ranks behind `POST /stream` (fal's SSE format) and `POST /`.
 * `PORT` picks the port (default 8000); Ctrl-C stops it and its ranks.
 */
import { serve } from "../../src/app/index.ts";
import BasicStreamingApp from "./app.ts";

const port = Number(process.env.PORT ?? 8000);
const server = await serve(BasicStreamingApp, { port, handleSignals: true });
console.log(`Serving on ${server.url}: POST /stream, POST /, the playground at GET /`);
