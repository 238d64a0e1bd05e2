import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { InvalidArgumentError } from "../errors.ts";
import { publicError } from "../events/public-error.ts";
import { RESUME_QUERY } from "../events/sse-names.ts";
import { UnauthorizedError } from "./errors.ts";
import type { AuthOption, AuthRequest } from "./options.ts";
import { playgroundHtml } from "./playground/index.ts";
import type { ServerContext } from "./server-context.ts";
import { JWKS_PATH } from "./webhook-routes.ts";

/**
 * The routes a request without a key may reach: the probes, and the public keys webhooks are
 * signed with (their receivers have no key). Kubernetes' two probes say only a status, so who
 * asks does not matter; `/health` tells a caller with a key more, so its caller is looked up,
 * but one without a key gets in too.
 */
const PROBES: ReadonlySet<string> = new Set(["/health/live", "/health/ready", JWKS_PATH]);
const HEALTH = "/health";

/** What a key may be made of: what an `Authorization: Key <key>` header can carry as one token. */
const KEY_TEXT = /^[\x21-\x7e]+$/;

/** Answered on a 401, as fal's servers do: the schemes a key may be sent with. */
const CHALLENGE = "Key, Bearer";

/** What `principals` records for a request let in by the app's own `verify`. */
export const VERIFIED_PRINCIPAL = "verify";

/** A key's fingerprint: the first 16 hex digits of its SHA-256. Logs and owners use it, never the key. */
export function keyFingerprint(key: string): string {
  return sha256(key).toString("hex").slice(0, 16);
}

/**
 * The key of an `Authorization` header, `Key <key>` (fal's clients) or `Bearer <key>`, schemes
 * in any case; `undefined` for none, or for one that is malformed (no key, another scheme, a
 * space inside the key, the header sent twice).
 */
export function presentedKey(rawHeaders: readonly string[]): string | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === "authorization") values.push(rawHeaders[i + 1] ?? "");
  }
  // Node keeps only the first of two Authorization headers; a proxy may read the other one.
  if (values.length !== 1) return undefined;
  const match = /^(?:key|bearer) +(\S+)$/i.exec((values[0] ?? "").trim());
  return match?.[1];
}

/**
 * Whether `key` is one of the accepted ones, in time that depends on neither the key nor how
 * much of it is right: both sides are hashed to the same length and every key is compared.
 */
export function keyMatcher(keys: readonly string[]): (key: string) => boolean {
  if (!keys.every((key) => KEY_TEXT.test(key))) {
    // Never the key itself in the message: it may end up in a log.
    throw new InvalidArgumentError(
      "Expected each of `auth.keys` to be printable ASCII without spaces (it is sent in a header as Key <key>)",
    );
  }
  const accepted = keys.map(sha256);
  return (key) => {
    const presented = sha256(key);
    let found = false;
    for (const candidate of accepted) found = timingSafeEqual(candidate, presented) || found;
    return found;
  };
}

/**
 * An `onRequest` hook, when `auth` is set: a request without a valid key (or the app's `verify`
 * saying yes) gets 401 `UNAUTHORIZED` with `WWW-Authenticate: Key, Bearer` and reaches no route.
 * Open without one: the health probes (`/health` then tells only its status), and an
 * unauthenticated `GET /` gets the playground's shell, which names nothing of the app and asks
 * for a key. CORS preflights from an allowed origin never get here: the CORS hook, registered
 * before this one, answers them; any other preflight needs a key like every request.
 *
 * A request let in is recorded in `context.principals`: its key's fingerprint, or
 * {@link VERIFIED_PRINCIPAL}.
 */
export function authHook(context: ServerContext, auth: AuthOption) {
  const matches = keyMatcher(auth.keys ?? []);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const route = request.routeOptions.url;
    const readOnly = request.method === "GET" || request.method === "HEAD";
    if (readOnly && route !== undefined && PROBES.has(route)) return;
    const principal = await admit(request, auth, matches);
    if (principal !== undefined) {
      context.principals.set(request.raw, principal);
      return;
    }
    if (readOnly && route === HEALTH) return;
    if (readOnly && route === "/" && !hasResumeQuery(request)) {
      // A browser's navigation carries no Authorization header: the page asks for the key.
      await reply.type("text/html; charset=utf-8").send(playgroundHtml());
      return;
    }
    const error = new UnauthorizedError(
      request.raw.headers.authorization === undefined
        ? "An API key is needed: send Authorization: Key <key>"
        : "The API key is not valid: send Authorization: Key <key> (or Bearer <key>) with one of the server's keys",
    );
    context.failures.set(request.raw, error);
    // fal's shape (`detail`) beside troupe's error body, so both kinds of client read it.
    const body = { error: publicError(error, request.id), detail: error.message };
    await reply
      .code(error.status)
      .header("www-authenticate", CHALLENGE)
      .type("application/json; charset=utf-8")
      .send(JSON.stringify(body));
  };
}

/** Who sent the request, or `undefined` when neither a key nor `verify` lets it in. */
async function admit(
  request: FastifyRequest,
  auth: AuthOption,
  matches: (key: string) => boolean,
): Promise<string | undefined> {
  const key = presentedKey(request.raw.rawHeaders);
  if (key !== undefined && matches(key)) return keyFingerprint(key);
  if (auth.verify === undefined) return undefined;
  const seen: AuthRequest = {
    method: request.method,
    url: request.url,
    headers: request.raw.headers,
  };
  try {
    return (await auth.verify(seen)) === true ? VERIFIED_PRINCIPAL : undefined;
  } catch (error) {
    // The app's own check failed: that is a refusal, and its error stays in the log.
    request.log.error({ err: error }, "auth verify() threw; the request is refused");
    return undefined;
  }
}

function hasResumeQuery(request: FastifyRequest): boolean {
  const value = (request.query as Record<string, unknown> | undefined)?.[RESUME_QUERY];
  return value !== undefined;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
