// docs:start
import { serve } from "troupe/app";
import MyApp from "./streaming-endpoint.ts";

const server = await serve(MyApp, { port: 8000, handleSignals: true });
console.log(`Serving on ${server.url}`);
// docs:end
