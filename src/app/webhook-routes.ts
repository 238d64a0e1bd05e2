import type { WebhookSigner } from "../queue/webhook-signer.ts";
import type { HttpServer } from "./http-server.ts";

/** Where a server publishes the keys its webhooks are signed with (fal's path too). */
export const JWKS_PATH = "/.well-known/jwks.json";

/**
 * How long receivers and caches between may keep the key set, in seconds. Short, so a rotated
 * key reaches receivers soon; receivers that fail to verify should fetch the set again anyway.
 */
const JWKS_MAX_AGE = 3600;

/**
 * `GET /.well-known/jwks.json`: the key set receivers verify webhooks with (docs/webhooks.md). It
 * holds only public keys, so it must be open without an API key where keys are set.
 */
export function registerWebhookRoutes(server: HttpServer, signer: WebhookSigner): void {
  // Only public keys: `jwks()` never holds the private one.
  const document = JSON.stringify(signer.jwks());
  server.get(JWKS_PATH, async (_request, reply) =>
    reply
      .type("application/json; charset=utf-8")
      .header("cache-control", `public, max-age=${JWKS_MAX_AGE}`)
      .send(document),
  );
}
