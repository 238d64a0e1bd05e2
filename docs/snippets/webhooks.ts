import { createHash, createPublicKey, type JsonWebKey, verify } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
// In an app: import { verifyWebhook, type WebhookJwks } from "troupe";
import { verifyWebhook, type WebhookJwks } from "../../src/queue/verify-webhook.ts";

/** What a troupe (or fal) webhook's body holds. */
export interface WebhookBody {
  readonly request_id: string;
  readonly gateway_request_id: string;
  readonly status: "OK" | "ERROR";
  readonly payload: unknown;
  readonly error: string | null;
  readonly payload_error?: string;
}

/** A receiver on its own port: 200 for a webhook it verified (handed to `onWebhook`), 401 otherwise. */
export function webhookReceiver(jwksUrl: string, onWebhook: (body: WebhookBody) => void): Server {
  // docs:start receiver
  let jwks: WebhookJwks | undefined;
  let fetchedAt = 0;
  return createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks); // the raw bytes: the signature covers exactly these
    if (jwks === undefined || Date.now() - fetchedAt > 3_600_000) {
      jwks = (await (await fetch(jwksUrl)).json()) as WebhookJwks; // keep the key set an hour
      fetchedAt = Date.now();
    }
    if (!verifyWebhook({ headers: req.headers, body, jwks })) {
      res.writeHead(401).end();
      return;
    }
    onWebhook(JSON.parse(body.toString("utf8")) as WebhookBody);
    res.writeHead(200).end(); // answer fast: a slow answer is retried
  });
  // docs:end receiver
}

// docs:start node-crypto
/** fal's check, with node:crypto alone: `jwks` is the server's `/.well-known/jwks.json`. */
export function verifySignature(
  headers: IncomingHttpHeaders,
  body: Buffer,
  jwks: { keys: JsonWebKey[] },
): boolean {
  const requestId = headers["x-fal-webhook-request-id"];
  const userId = headers["x-fal-webhook-user-id"];
  const timestamp = headers["x-fal-webhook-timestamp"];
  const signature = headers["x-fal-webhook-signature"];
  if (typeof requestId !== "string" || typeof userId !== "string") return false;
  if (typeof timestamp !== "string" || typeof signature !== "string") return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false; // ±5 minutes
  const digest = createHash("sha256").update(body).digest("hex");
  const message = Buffer.from(`${requestId}\n${userId}\n${timestamp}\n${digest}`);
  const bytes = Buffer.from(signature, "hex");
  return jwks.keys.some((jwk) => {
    const key = createPublicKey({ key: jwk, format: "jwk" });
    return verify(null, message, key, bytes);
  });
}
// docs:end node-crypto
