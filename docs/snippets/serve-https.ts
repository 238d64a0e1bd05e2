import { readFileSync } from "node:fs";
import { serve } from "troupe/app";
import MyApp from "./streaming-endpoint.ts";

// docs:start
const server = await serve(MyApp, {
  port: 8443,
  appId: "acme/sunsets", // fal's routes: POST /acme/sunsets, /queue/acme/sunsets, ...
  tls: { cert: readFileSync("cert.pem"), key: readFileSync("key.pem") },
});
console.log(server.url); // https://127.0.0.1:8443
// docs:end
await server.close();
