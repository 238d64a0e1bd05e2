import { type AuthRequest, serve } from "troupe/app";
import { run } from "troupe/client";
import MyApp from "./streaming-endpoint.ts";

/** Your own check of a session token (a JWT library's `verify`, say). */
declare function sessionIsValid(token: string): Promise<boolean>;

export async function serveSafely(): Promise<void> {
  // docs:start serve
  const server = await serve(MyApp, {
    host: "0.0.0.0", // beyond this machine: any Host is answered unless allowedHosts says
    allowedHosts: ["gpu-box.internal"],
    cors: { origin: ["https://studio.example.com"] },
    auth: {
      keys: [process.env.MY_APP_KEY ?? ""],
      // A request passes with one of the keys, or when this says yes.
      verify: async (request: AuthRequest) => {
        const token = request.headers["x-session-token"];
        return typeof token === "string" && (await sessionIsValid(token));
      },
    },
  });
  // docs:end serve
  await server.close();
}

export async function callWithKey(): Promise<unknown> {
  // docs:start client
  return await run("http://gpu-box.internal:8000", {
    input: { prompt: "A sunset" },
    apiKey: process.env.MY_APP_KEY, // sent as Authorization: Key <key>, on resumes and cancels too
  });
  // docs:end client
}
