/**
 * Serves the ddp-training app: `POST /train` on `PORT` (default 8000) with `WORLD_SIZE` ranks
 * (default 2). Watch it learn in the playground at `GET /`; Ctrl-C stops it and its ranks.
 */
import { serve } from "../../src/app/index.ts";
import BaseApp from "./app.ts";

const worldSize = Number(process.env.WORLD_SIZE ?? 2);

/** The app with `WORLD_SIZE` ranks; its name is the title the playground shows. */
class DdpTrainingApp extends BaseApp {
  override numGpus = worldSize;
}

const port = Number(process.env.PORT ?? 8000);
const server = await serve(DdpTrainingApp, { port, handleSignals: true });
console.log(`Serving on ${server.url}: POST /train; the playground at ${server.url}/`);
