/**
 * The key troupe signs webhooks with, and the key set it publishes for receivers to check them
 * (`GET /.well-known/jwks.json`, src/app/webhook-routes.ts). Every replica of one app must sign
 * with the same key, or a receiver that fetched one replica's key set refuses the others'
 * webhooks: give each the same PEM file (docs/webhooks.md).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { InvalidArgumentError } from "../errors.ts";
import type { WebhookJwk, WebhookJwks } from "./verify-webhook.ts";

/**
 * The key webhooks are signed with: PEM text (or its bytes) holding an Ed25519 private key
 * (PKCS#8, `-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm ed25519` writes it). Keys
 * after the first in the same text, private or public, are published but never sign: a rotation
 * publishes the next key before it signs, and keeps the last one published while receivers'
 * caches still hold it. Unset, the file named by `TROUPE_WEBHOOK_KEY_FILE` is read; unset too, a
 * key is generated at start, which suits a single replica only.
 */
export type WebhookKeyOption = string | Uint8Array;

/** The environment variable naming a PEM file of {@link WebhookKeyOption}'s form. */
export const WEBHOOK_KEY_FILE_ENV = "TROUPE_WEBHOOK_KEY_FILE";

/** A PEM block: its label and its whole text. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Signs webhooks with one Ed25519 key and publishes it, with any others given, as a key set. */
export class WebhookSigner {
  /** The signing key's id in the key set: its RFC 7638 thumbprint, the same on every replica. */
  readonly kid: string;
  private readonly keySet: WebhookJwks;

  private constructor(
    private readonly privateKey: KeyObject,
    published: readonly KeyObject[],
    /** `true` when the key was generated at start: another replica publishes a different one. */
    readonly generated: boolean,
  ) {
    const keys = new Map<string, WebhookJwk>();
    for (const key of [createPublicKey(privateKey), ...published]) {
      const jwk = publicJwk(key);
      keys.set(jwk.kid, jwk);
    }
    this.kid = publicJwk(createPublicKey(privateKey)).kid;
    this.keySet = Object.freeze({ keys: Object.freeze([...keys.values()]) });
  }

  /** A signer with a new key, for one process: nothing else will know it. */
  static generate(): WebhookSigner {
    return new WebhookSigner(generateKeyPairSync("ed25519").privateKey, [], true);
  }

  /**
   * A signer of the first key in `pem`, publishing the others too. `source` names where the text
   * came from in the error a bad key gets.
   */
  static fromPem(pem: WebhookKeyOption, source = "`webhookKey`"): WebhookSigner {
    const text = typeof pem === "string" ? pem : Buffer.from(pem).toString("utf8");
    const blocks = [...text.matchAll(PEM_BLOCK)];
    const [first, ...rest] = blocks;
    if (first === undefined || first[1] !== "PRIVATE KEY") {
      throw new InvalidArgumentError(
        `Expected ${source} to start with an Ed25519 private key in PEM (-----BEGIN PRIVATE KEY-----), got ${
          first === undefined ? "no PEM block" : `a ${first[1]} block`
        }`,
      );
    }
    const signing = ed25519(source, () => createPrivateKey(first[0]));
    // A later private key's public half is derived: only the first one ever signs.
    const published = rest.map((block) => ed25519(source, () => createPublicKey(block[0])));
    return new WebhookSigner(signing, published, false);
  }

  /** The signature of `message` with the signing key, in hex. */
  sign(message: string | Uint8Array): string {
    return sign(
      null,
      typeof message === "string" ? Buffer.from(message) : message,
      this.privateKey,
    ).toString("hex");
  }

  /** The key set receivers verify with: the signing key first, then the published ones. */
  jwks(): WebhookJwks {
    return this.keySet;
  }
}

/**
 * The signer a server uses: of `key` when given, else of the file `TROUPE_WEBHOOK_KEY_FILE` names,
 * else a generated one.
 */
export async function webhookSigner(
  key?: WebhookKeyOption,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<WebhookSigner> {
  if (key !== undefined) {
    if (typeof key !== "string" && !(key instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        `Expected \`webhookKey\` to be PEM text or bytes, got ${typeof key}`,
      );
    }
    return WebhookSigner.fromPem(key);
  }
  const file = env[WEBHOOK_KEY_FILE_ENV];
  if (file === undefined || file === "") return WebhookSigner.generate();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new InvalidArgumentError(`${WEBHOOK_KEY_FILE_ENV} names a file that cannot be read`, {
      cause: error,
    });
  }
  return WebhookSigner.fromPem(text, WEBHOOK_KEY_FILE_ENV);
}

/** The key `parse` reads, refused unless it is an Ed25519 key (never quoting the key). */
function ed25519(source: string, parse: () => KeyObject): KeyObject {
  let key: KeyObject;
  try {
    key = parse();
  } catch (error) {
    throw new InvalidArgumentError(`${source} holds a PEM block that is not a readable key`, {
      cause: error,
    });
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new InvalidArgumentError(
      `Expected ${source} to hold Ed25519 keys, got a ${key.asymmetricKeyType ?? "symmetric"} key`,
    );
  }
  return key;
}

/** A public key as a key set lists it, its `kid` the RFC 7638 thumbprint. */
function publicJwk(key: KeyObject): WebhookJwk & { readonly kid: string } {
  const { x } = key.export({ format: "jwk" });
  // RFC 7638: the required members in lexicographic order, no whitespace.
  const thumbprint = JSON.stringify({ crv: "Ed25519", kty: "OKP", x });
  const kid = createHash("sha256").update(thumbprint).digest("base64url");
  return Object.freeze({ kty: "OKP", crv: "Ed25519", x, kid, use: "sig", alg: "EdDSA" });
}
