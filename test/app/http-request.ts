import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

/** A request as the attack tests send it: a method, a path with its query, a JSON body. */
export interface RouteRequest {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** What came back, read whole. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * One request with node:http, which sends the headers as given: a `host` of the test's choice,
 * an array as repeated header lines (what `fetch` would merge into one). With `tls`, over HTTPS
 * trusting only its `ca`. A stream is read until it ends.
 */
export function sendRequest(
  server: { readonly port: number },
  route: RouteRequest,
  headers: OutgoingHttpHeaders = {},
  tls?: { readonly ca: string },
): Promise<Answer> {
  const body = route.body === undefined ? undefined : JSON.stringify(route.body);
  const request = tls === undefined ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...(tls === undefined ? {} : { ca: tls.ca }),
        host: "127.0.0.1",
        port: server.port,
        method: route.method,
        path: route.path,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
