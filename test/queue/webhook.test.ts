import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fastify } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  verifySignature,
  type WebhookBody,
  webhookReceiver,
} from "../../docs/snippets/webhooks.ts";
import type { HttpServer } from "../../src/app/http-server.ts";
import { JWKS_PATH, registerWebhookRoutes } from "../../src/app/webhook-routes.ts";
import { ErrorCode } from "../../src/errors.ts";
import { deferred } from "../../src/internal/deferred.ts";
import type { Outcome, QueueEntry } from "../../src/queue/queue-store.ts";
import {
  verifyWebhook,
  WebhookHeader,
  type WebhookJwks,
  webhookMessage,
} from "../../src/queue/verify-webhook.ts";
import {
  type DeliverWebhookOptions,
  deliverWebhook,
  webhookRetryOptions,
} from "../../src/queue/webhook.ts";
import {
  WEBHOOK_KEY_FILE_ENV,
  WebhookSigner,
  webhookSigner,
} from "../../src/queue/webhook-signer.ts";
import { recordingLogger, tempDir } from "../helpers.ts";

/** Closed after each test. */
const servers: Server[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  for (const close of closers.splice(0)) await close();
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** One request a receiver got. */
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly method: string | undefined;
}

/**
 * A webhook receiver on port 0 that answers each request with the next of `answers` (the last
 * repeats; `"hold"` never answers) and keeps what it got.
 */
async function receiver(
  answers: (number | "hold" | ((res: ServerResponse) => void))[],
): Promise<{ url: string; received: Received[]; next(): Promise<Received> }> {
  const received: Received[] = [];
  let waiting = deferred<Received>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const got = { headers: req.headers, body: Buffer.concat(chunks), method: req.method };
    const answer = answers[Math.min(received.length, answers.length - 1)];
    received.push(got);
    const current = waiting;
    waiting = deferred<Received>();
    current.resolve(got);
    if (answer === "hold") return;
    if (typeof answer === "function") answer(res);
    else res.writeHead(answer ?? 200).end();
  });
  const url = await listen(server);
  return { url: `${url}/hooks/fal?token=s3cret`, received, next: () => waiting.promise };
}

/** A clock that only moves when the delivery sleeps: waits are recorded, never spent. */
function fakeClock(start = Date.now()) {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number, signal: AbortSignal) => {
      signal.throwIfAborted();
      sleeps.push(ms);
      t += ms;
    },
  };
}

const REQUEST_ID = "6d1c9a4e-2f4b-4c55-9a55-0c2b8e1f7a10";

function entry(url: string | undefined, owner?: string): QueueEntry {
  return {
    id: REQUEST_ID,
    appId: "local/echo",
    endpoint: "/",
    input: { prompt: "a dog" },
    priority: "normal",
    submittedAt: Date.now(),
    webhookUrl: url,
    owner,
  };
}

const OK: Outcome = { ok: true, output: JSON.stringify({ images: [{ url: "data:," }], seed: 7 }) };

/**
 * Delivers {@link OK} to `url` with a new key, a fake clock, the jitter at its middle and a
 * recording logger, unless `extra` says otherwise.
 */
async function deliver(url: string, extra: Partial<DeliverWebhookOptions> = {}) {
  const logger = recordingLogger();
  const result = await deliverWebhook(entry(url), OK, {
    signer: WebhookSigner.generate(),
    random: () => 0.5,
    logger,
    ...fakeClock(),
    ...extra,
  });
  return { result, logs: logger.records };
}

/** A server (fastify, as troupe's) that mounts the key-set route. */
async function keySetServer(signer: WebhookSigner): Promise<string> {
  const server = fastify();
  registerWebhookRoutes(server as unknown as HttpServer, signer);
  const url = await server.listen({ port: 0, host: "127.0.0.1" });
  closers.push(() => server.close());
  return url;
}

function pem(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  return privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

describe("deliverWebhook", () => {
  it("POSTs fal's body, signed so that a receiver verifies it with the key set the server publishes", async () => {
    const signer = WebhookSigner.generate();
    const jwksUrl = `${await keySetServer(signer)}${JWKS_PATH}`;
    const got = deferred<WebhookBody>();
    const url = await listen(webhookReceiver(jwksUrl, got.resolve));

    const result = await deliverWebhook(entry(`${url}/hook`), OK, { signer });

    expect(result).toEqual({ delivered: true, attempts: 1, status: 200 });
    expect(await got.promise).toEqual({
      request_id: REQUEST_ID,
      gateway_request_id: REQUEST_ID,
      status: "OK",
      payload: { images: [{ url: "data:," }], seed: 7 },
      error: null,
    });
  });

  it("sends fal's four headers, which fal's node:crypto check accepts with the published key set", async () => {
    const signer = WebhookSigner.generate();
    const jwks = (await (
      await fetch(`${await keySetServer(signer)}${JWKS_PATH}`)
    ).json()) as Parameters<typeof verifySignature>[2];
    const r = await receiver([200]);

    await deliverWebhook(entry(r.url, "0123456789abcdef"), OK, { signer });

    const [got] = r.received as [Received];
    expect(got.method).toBe("POST");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers[WebhookHeader.requestId]).toBe(REQUEST_ID);
    expect(got.headers[WebhookHeader.userId]).toBe("0123456789abcdef");
    expect(got.headers[WebhookHeader.timestamp]).toMatch(/^\d+$/);
    expect(got.headers[WebhookHeader.signature]).toMatch(/^[0-9a-f]{128}$/);
    expect(verifySignature(got.headers, got.body, jwks)).toBe(true);
    expect(verifySignature(got.headers, Buffer.from(`${got.body} `), jwks)).toBe(false);
  });

  it("says `anonymous` as the user id of a request submitted without keys", async () => {
    const r = await receiver([200]);
    await deliverWebhook(entry(r.url), OK, { signer: WebhookSigner.generate() });
    expect(r.received[0]?.headers[WebhookHeader.userId]).toBe("anonymous");
  });

  it("sends ERROR with the error's message, and the result route's body as its payload", async () => {
    const r = await receiver([200]);
    const error = {
      name: "WorkerCallError",
      code: "CALL_FAILED",
      message: "out of memory",
      rank: 1,
    };

    await deliverWebhook(entry(r.url), { ok: false, error }, { signer: WebhookSigner.generate() });

    expect(JSON.parse(String(r.received[0]?.body))).toEqual({
      request_id: REQUEST_ID,
      gateway_request_id: REQUEST_ID,
      status: "ERROR",
      payload: { error, detail: "out of memory" },
      error: "out of memory",
    });
  });

  it("sends payload null and a payload_error when the output is not JSON", async () => {
    const r = await receiver([200]);
    await deliverWebhook(
      entry(r.url),
      { ok: true, output: "{" },
      { signer: WebhookSigner.generate() },
    );
    expect(JSON.parse(String(r.received[0]?.body))).toMatchObject({
      status: "OK",
      payload: null,
      payload_error: "The output is not valid JSON",
    });
  });

  it("makes no attempt for a request without a webhook", async () => {
    const result = await deliverWebhook(entry(undefined), OK, { signer: WebhookSigner.generate() });
    expect(result).toEqual({ delivered: false, attempts: 0 });
  });

  it("tries again after a 500 and a 503, with growing waits and a fresh signature each time, until a 2xx", async () => {
    const signer = WebhookSigner.generate();
    const r = await receiver([500, 503, 204]);
    const clock = fakeClock();
    const logger = recordingLogger();

    const result = await deliverWebhook(entry(r.url), OK, {
      signer,
      random: () => 0.5,
      logger,
      ...clock,
    });

    expect(result).toEqual({ delivered: true, attempts: 3, status: 204 });
    // 10 s then 20 s, each with the jitter at its middle (3/4 of the backoff).
    expect(clock.sleeps).toEqual([7500, 15_000]);
    const stamps = r.received.map((got) => Number(got.headers[WebhookHeader.timestamp]));
    expect(stamps[1]).toBeGreaterThan(stamps[0] as number);
    expect(stamps[2]).toBeGreaterThan(stamps[1] as number);
    const jwks = signer.jwks();
    for (const got of r.received) {
      const at = Number(got.headers[WebhookHeader.timestamp]) * 1000;
      expect(verifyWebhook({ headers: got.headers, body: got.body, jwks, now: () => at })).toBe(
        true,
      );
    }
    expect(logger.records.map((x) => [x.level, x.msg])).toEqual([
      ["warn", "Webhook delivery failed; retrying"],
      ["warn", "Webhook delivery failed; retrying"],
      ["info", "Webhook delivered"],
    ]);
    expect(logger.records[0]?.obj).toMatchObject({ attempt: 1, status: 500, retryIn: 7500 });
  });

  it("waits as long as a 429's Retry-After asks when that is longer than its backoff", async () => {
    const r = await receiver([(res) => res.writeHead(429, { "retry-after": "120" }).end(), 200]);
    const clock = fakeClock();
    const { result } = await deliver(r.url, clock);
    expect(result.attempts).toBe(2);
    expect(clock.sleeps).toEqual([120_000]);
  });

  it("gives up after `attempts`, logging each failure and the give-up", async () => {
    const r = await receiver([500]);
    const { result, logs } = await deliver(r.url, { attempts: 4 });
    expect(result).toEqual({ delivered: false, attempts: 4, status: 500 });
    expect(r.received).toHaveLength(4);
    expect(logs.map((x) => x.level)).toEqual(["warn", "warn", "warn", "error"]);
    expect(logs[3]?.msg).toBe("Webhook not delivered after 4 attempts; giving up");
  });

  it("starts no attempt past `totalTime` after the first", async () => {
    const r = await receiver([503]);
    const clock = fakeClock();
    // No jitter: waits of 0.5, 1, 2 and 4 s reach 7.5 s; the next (8 s) would pass 10 s.
    const { result } = await deliver(r.url, {
      ...clock,
      attempts: 100,
      initialDelay: 1000,
      totalTime: 10_000,
      random: () => 0,
    });
    expect(result).toEqual({ delivered: false, attempts: 5, status: 503 });
    expect(clock.sleeps).toEqual([500, 1000, 2000, 4000]);
  });

  it("keeps each wait under `maxDelay`", async () => {
    const r = await receiver([500]);
    const clock = fakeClock();
    await deliver(r.url, { ...clock, attempts: 6, maxDelay: 30_000, random: () => 1 });
    expect(clock.sleeps).toEqual([10_000, 20_000, 30_000, 30_000, 30_000]);
  });

  it.each([400, 401, 404, 422])("gives up at once on a %i", async (status) => {
    const r = await receiver([status, 200]);
    const { result, logs } = await deliver(r.url);
    expect(result).toEqual({ delivered: false, attempts: 1, status });
    expect(logs.map((x) => [x.level, x.msg])).toEqual([
      ["error", "Webhook refused by its receiver; not retried"],
    ]);
  });

  it("tries a 408 again, as a timeout", async () => {
    const r = await receiver([408, 200]);
    const { result } = await deliver(r.url);
    expect(result).toEqual({ delivered: true, attempts: 2, status: 200 });
  });

  it("does not follow a redirect", async () => {
    const r = await receiver([(res) => res.writeHead(307, { location: "/elsewhere" }).end(), 200]);
    const { result } = await deliver(r.url);
    expect(result).toEqual({ delivered: false, attempts: 1, status: 307 });
    expect(r.received).toHaveLength(1);
  });

  it("tries again when the receiver cannot be reached, logging the error's code without a stack or the URL's query", async () => {
    const closed = createServer();
    const url = `${await listen(closed)}/hook?token=s3cret`;
    await new Promise((resolve) => closed.close(resolve));
    servers.splice(servers.indexOf(closed), 1);

    const { result, logs } = await deliver(url, { attempts: 2 });

    expect(result).toEqual({ delivered: false, attempts: 2 });
    expect(logs[0]?.obj).toMatchObject({ attempt: 1, error: "ECONNREFUSED" });
    const text = JSON.stringify(logs);
    expect(text).not.toContain("s3cret");
    expect(text).not.toMatch(/\n\s+at /);
    expect(text).toContain(`${new URL(url).origin}/hook`);
  });

  it("counts an attempt with no answer within `attemptTimeout` as failed, and tries again", async () => {
    const r = await receiver(["hold", 200]);
    // The first attempt's timer fires once the receiver holds the request; the second's never
    // does (a real 50 ms timer could also fire on a loaded machine's second attempt).
    const asked: number[] = [];
    const attemptSignal = (ms: number): AbortSignal => {
      asked.push(ms);
      const timer = new AbortController();
      if (asked.length === 1) {
        void r.next().then(() => timer.abort(new DOMException("timed out", "TimeoutError")));
      }
      return timer.signal;
    };
    const { result, logs } = await deliver(r.url, { attemptTimeout: 50, attemptSignal });
    expect(result).toEqual({ delivered: true, attempts: 2, status: 200 });
    expect(asked).toEqual([50, 50]);
    expect(logs[0]?.obj).toMatchObject({ attempt: 1, error: "no answer within 0.05 s" });
  });

  it("ends an attempt with a real timer by default", async () => {
    const r = await receiver(["hold"]);
    const { result, logs } = await deliver(r.url, { attemptTimeout: 20, attempts: 2 });
    expect(result).toEqual({ delivered: false, attempts: 2 });
    expect(logs.map((l) => (l.obj as { error?: string }).error)).toEqual([
      "no answer within 0.02 s",
      "no answer within 0.02 s",
    ]);
  });

  it("stops retrying when its signal aborts during a wait, rejecting with the signal's reason", async () => {
    const r = await receiver([500]);
    const controller = new AbortController();
    const sleeping = deferred();
    const logger = recordingLogger();
    const delivery = deliverWebhook(entry(r.url), OK, {
      signer: WebhookSigner.generate(),
      signal: controller.signal,
      logger,
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => {
          sleeping.resolve();
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    });
    await sleeping.promise;
    const reason = new Error("shutting down");
    controller.abort(reason);

    await expect(delivery).rejects.toBe(reason);
    expect(r.received).toHaveLength(1);
    expect(logger.records.map((x) => x.level)).toEqual(["warn"]);
  });

  it("stops an attempt in flight when its signal aborts, and logs no failure for it", async () => {
    const r = await receiver(["hold"]);
    const controller = new AbortController();
    const logger = recordingLogger();
    const delivery = deliverWebhook(entry(r.url), OK, {
      signer: WebhookSigner.generate(),
      signal: controller.signal,
      logger,
    });
    await r.next();
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(delivery).rejects.toBe(reason);
    expect(logger.records).toEqual([]);
  });

  it("makes no attempt when its signal has already aborted", async () => {
    const r = await receiver([200]);
    const reason = new Error("gone");
    const delivery = deliverWebhook(entry(r.url), OK, {
      signer: WebhookSigner.generate(),
      signal: AbortSignal.abort(reason),
    });
    await expect(delivery).rejects.toBe(reason);
    expect(r.received).toHaveLength(0);
  });
});

describe("webhookRetryOptions", () => {
  it("fills fal's defaults: 10 attempts within 2 hours", () => {
    expect(webhookRetryOptions()).toEqual({
      attempts: 10,
      totalTime: 7_200_000,
      initialDelay: 10_000,
      maxDelay: 1_800_000,
      attemptTimeout: 10_000,
    });
  });

  it.each([
    [{ attempts: 0 }, "Expected `attempts` to be a positive integer, got 0"],
    [{ attempts: 1.5 }, "Expected `attempts` to be a positive integer, got 1.5"],
    [{ totalTime: -1 }, "Expected `totalTime` to be a positive number of ms, got -1"],
    [
      { attemptTimeout: Number.NaN },
      "Expected `attemptTimeout` to be a positive number of ms, got NaN",
    ],
  ])("refuses %o", (given, message) => {
    expect(() => webhookRetryOptions(given)).toThrow(message);
  });
});

describe("verifyWebhook", () => {
  const signer = WebhookSigner.generate();
  const body = Buffer.from('{"request_id":"r","status":"OK"}');
  const now = 1_750_000_000_000;
  const timestamp = String(now / 1000);
  const signed = (over: Record<string, string | string[]> = {}): IncomingHttpHeaders => ({
    [WebhookHeader.requestId]: "r",
    [WebhookHeader.userId]: "u",
    [WebhookHeader.timestamp]: timestamp,
    [WebhookHeader.signature]: signer.sign(webhookMessage("r", "u", timestamp, body)),
    ...over,
  });
  const check = (
    headers: IncomingHttpHeaders | Headers,
    b: string | Uint8Array = body,
    jwks = signer.jwks(),
    at = now,
  ) => verifyWebhook({ headers, body: b, jwks, now: () => at });

  it("accepts a webhook signed by a key of the set, from Node's headers, a Headers or any case", () => {
    expect(check(signed())).toBe(true);
    expect(check(new Headers(signed() as Record<string, string>))).toBe(true);
    const upper = Object.fromEntries(
      Object.entries(signed()).map(([k, v]) => [k.toUpperCase(), v]),
    );
    expect(check(upper)).toBe(true);
    expect(check(signed(), body.toString("utf8"))).toBe(true);
  });

  it("refuses a tampered body", () => {
    expect(check(signed(), Buffer.from('{"request_id":"r","status":"ERROR"}'))).toBe(false);
  });

  it.each([
    [WebhookHeader.requestId, "r2"],
    [WebhookHeader.userId, "u2"],
    [WebhookHeader.timestamp, String(now / 1000 + 1)],
  ])("refuses a webhook whose %s was changed", (name, value) => {
    expect(check(signed({ [name]: value }))).toBe(false);
  });

  it("refuses a timestamp more than 5 minutes away, either way", () => {
    expect(check(signed(), body, signer.jwks(), now + 300_000)).toBe(true);
    expect(check(signed(), body, signer.jwks(), now + 301_000)).toBe(false);
    expect(check(signed(), body, signer.jwks(), now - 301_000)).toBe(false);
  });

  it.each(Object.values(WebhookHeader))("refuses a webhook without %s", (name) => {
    const headers = signed();
    delete headers[name];
    expect(check(headers)).toBe(false);
  });

  it("refuses a header sent twice, a short or non-hex signature, and a non-numeric timestamp", () => {
    const good = signed()[WebhookHeader.signature] as string;
    expect(check(signed({ [WebhookHeader.userId]: ["u", "u"] }))).toBe(false);
    expect(check(signed({ [WebhookHeader.signature]: good.slice(0, 126) }))).toBe(false);
    expect(check(signed({ [WebhookHeader.signature]: `${good.slice(0, 126)}zz` }))).toBe(false);
    expect(check(signed({ [WebhookHeader.timestamp]: "1e9" }))).toBe(false);
  });

  it("refuses a signature by a key the set does not hold, and skips keys it cannot use", () => {
    const other = WebhookSigner.generate().jwks();
    expect(check(signed(), body, other)).toBe(false);
    const mixed: WebhookJwks = {
      keys: [
        { kty: "RSA", n: "x", e: "AQAB" } as never,
        { kty: "OKP", crv: "Ed25519", x: "!" },
        ...signer.jwks().keys,
      ],
    };
    expect(check(signed(), body, mixed)).toBe(true);
    expect(check(signed(), body, {} as WebhookJwks)).toBe(false);
  });
});

describe("WebhookSigner", () => {
  it("reads its key from TROUPE_WEBHOOK_KEY_FILE, so two replicas publish one key set and sign alike", async () => {
    using dir = tempDir();
    const file = join(dir.path, "webhook-key.pem");
    writeFileSync(file, pem());
    const env = { [WEBHOOK_KEY_FILE_ENV]: file };

    const [a, b] = await Promise.all([
      webhookSigner(undefined, env),
      webhookSigner(undefined, env),
    ]);

    expect(a.generated).toBe(false);
    expect(a.jwks()).toEqual(b.jwks());
    expect(a.kid).toBe(b.kid);
    const message = webhookMessage("r", "u", "1", "{}");
    expect(a.sign(message)).toBe(b.sign(message)); // Ed25519 signatures are deterministic
  });

  it("publishes the key as an OKP Ed25519 JWK with its RFC 7638 thumbprint as kid, and no private part", () => {
    const signer = WebhookSigner.fromPem(pem());
    const [key] = signer.jwks().keys;
    expect(signer.jwks().keys).toHaveLength(1);
    expect(key).toEqual({
      kty: "OKP",
      crv: "Ed25519",
      x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      kid: signer.kid,
      use: "sig",
      alg: "EdDSA",
    });
    expect(signer.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("signs with the first key of its PEM and publishes the later ones too, for a rotation", () => {
    const next = pem();
    const signer = WebhookSigner.fromPem(`${pem()}\n${next}`);
    const nextOnly = WebhookSigner.fromPem(next);
    expect(signer.jwks().keys.map((k) => k.kid)).toEqual([signer.kid, nextOnly.kid]);
    const message = webhookMessage("r", "u", "1", "{}");
    expect(signer.sign(message)).not.toBe(nextOnly.sign(message));
    const publicOnly = generateKeyPairSync("ed25519").publicKey.export({
      format: "pem",
      type: "spki",
    });
    expect(WebhookSigner.fromPem(`${next}${publicOnly}`).jwks().keys).toHaveLength(2);
  });

  it("takes `webhookKey` as PEM bytes before the environment's file", async () => {
    const text = pem();
    const signer = await webhookSigner(new TextEncoder().encode(text), {
      [WEBHOOK_KEY_FILE_ENV]: "/nonexistent",
    });
    expect(signer.kid).toBe(WebhookSigner.fromPem(text).kid);
  });

  it("generates a key when neither `webhookKey` nor the environment names one", async () => {
    const signer = await webhookSigner(undefined, {});
    expect(signer.generated).toBe(true);
    expect(signer.jwks().keys).toHaveLength(1);
  });

  it.each([
    [
      "no PEM at all",
      "not a key",
      "Expected `webhookKey` to start with an Ed25519 private key in PEM (-----BEGIN PRIVATE KEY-----), got no PEM block",
    ],
    [
      "a public key first",
      String(generateKeyPairSync("ed25519").publicKey.export({ format: "pem", type: "spki" })),
      "got a PUBLIC KEY block",
    ],
    [
      "an RSA key",
      String(
        generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
          format: "pem",
          type: "pkcs8",
        }),
      ),
      "Expected `webhookKey` to hold Ed25519 keys, got a rsa key",
    ],
    [
      "a broken block",
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
      "`webhookKey` holds a PEM block that is not a readable key",
    ],
  ])("refuses %s, without quoting the key", (_what, text, message) => {
    expect(() => WebhookSigner.fromPem(text)).toThrow(message);
  });

  it("refuses a key file that cannot be read, naming the variable", async () => {
    await expect(
      webhookSigner(undefined, { [WEBHOOK_KEY_FILE_ENV]: "/nonexistent/key.pem" }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: `${WEBHOOK_KEY_FILE_ENV} names a file that cannot be read`,
    });
  });
});

describe("registerWebhookRoutes", () => {
  it("answers GET /.well-known/jwks.json with the signer's public key set, cacheable", async () => {
    const signer = WebhookSigner.fromPem(`${pem()}${pem()}`);
    const response = await fetch(`${await keySetServer(signer)}${JWKS_PATH}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("public, max-age=3600");
    const text = await response.text();
    expect(JSON.parse(text)).toEqual(signer.jwks());
    expect(text).not.toContain('"d"');
  });
});
