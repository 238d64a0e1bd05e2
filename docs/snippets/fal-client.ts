/**
 * fal's JavaScript client pointed at a troupe server, both ways docs/fal-compat.md shows
 * (test/app/fal-direct.test.ts runs these very functions against a real server).
 */
import { createFalClient, type FalClient } from "@fal-ai/client";

/** What `createFalClient` takes (its `Config` type is not exported). */
type Config = NonNullable<Parameters<typeof createFalClient>[0]>;

// docs:start middleware
/** fal's client, with every request it would send to fal.run or queue.fal.run sent to troupe. */
export function falClientFor(troupeUrl: string, config: Config = {}): FalClient {
  return createFalClient({
    ...config,
    requestMiddleware: async (request) => ({
      ...request,
      url: request.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, (_, queue) =>
        queue === undefined ? troupeUrl : `${troupeUrl}/queue`,
      ),
    }),
  });
}
// docs:end middleware

// docs:start proxy
/** fal's client sending every request to troupe's proxy path, the fal URL in x-fal-target-url. */
export function falClientThroughProxy(troupeUrl: string, config: Config = {}): FalClient {
  return createFalClient({
    ...config,
    // `when: "always"`: in a browser fal's client proxies by default, in Node only when told to.
    proxyUrl: { url: `${troupeUrl}/api/fal/proxy`, when: "always" },
  });
}
// docs:end proxy
