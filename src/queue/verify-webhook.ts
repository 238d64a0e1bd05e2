/**
 * fal's webhook signature, both ends of it: the headers a signed webhook carries, the message
 * that is signed, and the receiver's check. troupe's sender (webhook.ts) builds its message with
 * {@link webhookMessage}, so the two cannot drift. A receiver written for fal's webhooks verifies
 * troupe's unchanged, given troupe's key set instead of fal's (docs/webhooks.md).
 */
import { createHash, createPublicKey, type KeyObject, verify } from "node:crypto";

/** The headers of a signed webhook, in lower case as Node reads them. */
export const WebhookHeader = {
  /** The queued request's id (the body's `request_id`). */
  requestId: "x-fal-webhook-request-id",
  /** Who submitted the request (docs/webhooks.md says what troupe sends). */
  userId: "x-fal-webhook-user-id",
  /** When this delivery attempt was signed, in whole seconds since the epoch. */
  timestamp: "x-fal-webhook-timestamp",
  /** The Ed25519 signature of {@link webhookMessage}, in hex. */
  signature: "x-fal-webhook-signature",
} as const;

/** One public key of a JSON Web Key Set: an Ed25519 key (`kty: "OKP"`, `x` in base64url). */
export interface WebhookJwk {
  readonly kty: string;
  readonly crv?: string;
  /** The public key's 32 bytes, base64url. */
  readonly x?: string;
  readonly kid?: string;
  readonly use?: string;
  readonly alg?: string;
}

/** A JSON Web Key Set, as `GET /.well-known/jwks.json` answers it. */
export interface WebhookJwks {
  readonly keys: readonly WebhookJwk[];
}

/** How far a webhook's timestamp may be from the receiver's clock, in seconds: fal's ±5 minutes. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** What {@link verifyWebhook} checks. */
export interface VerifyWebhookOptions {
  /** The request's headers: a `Headers` (fetch, Next.js) or Node's `IncomingHttpHeaders`. */
  readonly headers: Headers | Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The body exactly as it arrived, before any JSON parsing (a string is taken as UTF-8). */
  readonly body: string | Uint8Array;
  /** The sender's public keys (its `/.well-known/jwks.json`); any one of them may have signed. */
  readonly jwks: WebhookJwks;
  /** The receiver's clock, in ms since the epoch. @default Date.now */
  readonly now?: () => number;
  /** How far the timestamp may be from `now`, in seconds. @default 300 */
  readonly tolerance?: number;
}

/**
 * The text a webhook's signature covers: its request id, user id and timestamp, and the SHA-256
 * of its body in hex, one per line (fal's scheme).
 */
export function webhookMessage(
  requestId: string,
  userId: string,
  timestamp: string,
  body: string | Uint8Array,
): Buffer {
  const digest = createHash("sha256").update(body).digest("hex");
  return Buffer.from(`${requestId}\n${userId}\n${timestamp}\n${digest}`, "utf8");
}

/**
 * `true` when the webhook was signed by one of `jwks`'s keys, over exactly this body and these
 * headers, and its timestamp is within `tolerance` of the receiver's clock. Any missing or
 * malformed part is `false`, never an exception.
 *
 * @example
 * const body = await readRawBody(req); // the bytes, not a parsed object
 * if (!verifyWebhook({ headers: req.headers, body, jwks })) return res.writeHead(401).end();
 */
export function verifyWebhook(options: VerifyWebhookOptions): boolean {
  const { headers, body, jwks } = options;
  const requestId = header(headers, WebhookHeader.requestId);
  const userId = header(headers, WebhookHeader.userId);
  const timestamp = header(headers, WebhookHeader.timestamp);
  const signature = header(headers, WebhookHeader.signature);
  if (requestId === undefined || userId === undefined) return false;
  if (timestamp === undefined || !/^\d{1,15}$/.test(timestamp)) return false;
  // 64 bytes: a shorter or odd hex string would be cut short by Buffer.from, not refused.
  if (signature === undefined || !/^[0-9a-fA-F]{128}$/.test(signature)) return false;
  const now = (options.now ?? Date.now)() / 1000;
  const tolerance = options.tolerance ?? WEBHOOK_TOLERANCE_SECONDS;
  if (Math.abs(now - Number(timestamp)) > tolerance) return false;
  const message = webhookMessage(requestId, userId, timestamp, body);
  const bytes = Buffer.from(signature, "hex");
  for (const key of publicKeys(jwks)) {
    if (verify(null, message, key, bytes)) return true;
  }
  return false;
}

/** The Ed25519 keys of a key set; other kinds of key, and broken ones, are skipped. */
function publicKeys(jwks: WebhookJwks): KeyObject[] {
  const keys = Array.isArray(jwks?.keys) ? jwks.keys : [];
  const out: KeyObject[] = [];
  for (const jwk of keys) {
    if (jwk?.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") continue;
    try {
      out.push(createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" }));
    } catch {
      // Not a valid key: it cannot have signed anything.
    }
  }
  return out;
}

/**
 * One header's value, its name in any case. A header sent twice counts as none: `Headers` and
 * Node both join repeated values with ", ", and no value of these headers holds a comma.
 */
function header(headers: VerifyWebhookOptions["headers"], name: string): string | undefined {
  let value: unknown;
  if (typeof (headers as Headers).get === "function") value = (headers as Headers).get(name);
  else {
    const record = headers as Readonly<Record<string, unknown>>;
    value = record[name];
    if (value === undefined) {
      const key = Object.keys(record).find((k) => k.toLowerCase() === name);
      value = key === undefined ? undefined : record[key];
    }
  }
  return typeof value === "string" && value !== "" && !value.includes(",") ? value : undefined;
}
