import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerHandle } from "../../src/app/index.ts";
import { main } from "../../src/cli/program.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { FakeOutput } from "../cli/fake-output.ts";
import { runProcess } from "../consumers/run-process.ts";
import FalDirectApp from "../fixtures/app/fal-direct-app.ts";
import { tempDir } from "../helpers.ts";
import { serveForTest } from "./helpers.ts";
import { sendRequest } from "./http-request.ts";

const OPENSSL = "/usr/bin/openssl";
/** Debian's python3 with its python3-httpx; CI installs both. */
const PYTHON = "/usr/bin/python3";
const falClient = fileURLToPath(new URL("../fixtures/fal_client_requests.py", import.meta.url));
const appModule = fileURLToPath(new URL("../fixtures/app/fal-direct-app.ts", import.meta.url));
const APP_ID = "troupe/tls";
const KEY = "tls-test-key";

/**
 * A self-signed certificate for 127.0.0.1 and localhost, its own CA, made with openssl in a
 * temporary folder: the files, and their text.
 */
function makeCertificate(dir: string) {
  if (!existsSync(OPENSSL)) {
    throw new Error(`tls.test.ts makes its certificate with ${OPENSSL}: install Debian's openssl`);
  }
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    OPENSSL,
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-days", "2", "-subj", "/CN=troupe test", "-keyout", keyFile, "-out", certFile],
      ...["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ...["-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
    ],
    { stdio: "ignore" },
  );
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
  };
}

/** One request over HTTPS to `server`, trusting only `ca`, read whole (a stream until it ends). */
function send(
  server: { readonly port: number },
  path: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const route = { method: init.method ?? "GET", path, body: init.body };
  return sendRequest(server, route, init.headers, { ca });
}

function eventsOf(text: string): EventSourceMessage[] {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  parser.feed(text);
  return events;
}

/** fal_client's requests from Debian's python3, with the environment fal_client reads. */
function python(env: Record<string, string>, args: string[]) {
  const vars = Object.entries({ FAL_KEY: KEY, ...env }).map(([name, value]) => `${name}=${value}`);
  return runProcess("/usr/bin/env", [...vars, PYTHON, falClient, ...args]);
}

function printed(stdout: string): unknown[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

describe("serve(App, { tls }): HTTPS", () => {
  const dir = tempDir();
  const certificate = makeCertificate(dir.path);
  let server: ServerHandle;
  const host = () => `127.0.0.1:${server.port}`;

  beforeAll(async () => {
    server = await serveForTest(FalDirectApp, {
      appId: APP_ID,
      tls: { cert: certificate.cert, key: Buffer.from(certificate.key) },
      auth: { keys: [KEY] },
    });
  });
  afterAll(async () => {
    await server.close();
    dir[Symbol.dispose]();
  });

  it("says https:// in its url and answers the health probes over TLS", async () => {
    expect(server.url).toBe(`https://${host()}`);
    const ready = await send(server, "/health/ready", certificate.cert);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: "ready" });
    expect((await send(server, "/health/live", certificate.cert)).status).toBe(200);
  });

  it("streams over TLS, and resumes the stream from Last-Event-ID with its resume token", async () => {
    const headers = { authorization: `Key ${KEY}`, "troupe-dialect": "troupe" };
    const streamed = await send(server, "/steps", certificate.cert, {
      method: "POST",
      headers,
      body: { steps: 3 },
    });
    expect(streamed.status).toBe(200);
    expect(streamed.headers["content-type"]).toMatch(/^text\/event-stream/);
    const events = eventsOf(streamed.body).filter((e) => e.id !== undefined);
    expect(events.map((e) => e.event)).toEqual(["result", "result", "result", "done"]);

    const requestId = streamed.headers["x-request-id"] as string;
    const resumed = await send(server, `/steps?requestId=${requestId}`, certificate.cert, {
      headers: {
        ...headers,
        "last-event-id": "1",
        "troupe-resume-token": streamed.headers["troupe-resume-token"] as string,
      },
    });
    expect(resumed.status).toBe(200);
    const again = eventsOf(resumed.body).filter((e) => e.id !== undefined);
    expect(again.map((e) => [e.id, e.event, e.data])).toEqual(
      events.slice(1).map((e) => [e.id, e.event, e.data]),
    );
  });

  it("answers fal_client's run and stream on the direct routes, with FAL_RUN_HOST and the CA in SSL_CERT_FILE", async () => {
    const env = { FAL_RUN_HOST: host(), SSL_CERT_FILE: certificate.certFile };
    const run = await python(env, ["run", APP_ID, JSON.stringify({ name: "python" })]);
    expect(run.stderr).toBe("");
    expect(printed(run.stdout)).toEqual([{ greeting: "hello python" }]);
    expect(run.code).toBe(0);

    const stream = await python(env, ["stream", `${APP_ID}/steps`, JSON.stringify({ steps: 2 })]);
    expect(stream.stderr).toBe("");
    expect(printed(stream.stdout)).toEqual([
      { step: 0, progress: 0.5 },
      { step: 1, progress: 1 },
    ]);
    expect(stream.code).toBe(0);
  });

  it("gives fal_client the status and FastAPI's detail of a refusal: 422, and 401 for a wrong key", async () => {
    const env = { FAL_RUN_HOST: host(), SSL_CERT_FILE: certificate.certFile };
    const invalid = await python(env, ["run", APP_ID, JSON.stringify({ name: "" })]);
    expect(invalid.code).toBe(2);
    expect(JSON.parse(invalid.stderr)).toEqual({
      status: 422,
      detail: [{ loc: ["body", "name"], msg: expect.stringMatching(/\S/), type: "too_small" }],
      timeout_type: null,
    });

    const wrongKey = await python({ ...env, FAL_KEY: "not-the-key" }, [
      "run",
      APP_ID,
      JSON.stringify({ name: "x" }),
    ]);
    expect(wrongKey.code).toBe(2);
    expect(JSON.parse(wrongKey.stderr)).toMatchObject({ status: 401 });
  });

  it("is refused by fal_client's httpx without the CA: the certificate is checked", async () => {
    const run = await python({ FAL_RUN_HOST: host() }, [
      "run",
      APP_ID,
      JSON.stringify({ name: "x" }),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("CERTIFICATE_VERIFY_FAILED");
    expect(run.stdout).toBe("");
  });

  it("answers fal_client's subscribe, submit, status and result on the queue, with FAL_QUEUE_RUN_HOST at <host:port>/queue", async () => {
    const env = {
      FAL_RUN_HOST: host(),
      FAL_QUEUE_RUN_HOST: `${host()}/queue`,
      SSL_CERT_FILE: certificate.certFile,
    };
    const subscribed = await python(env, ["subscribe", APP_ID, JSON.stringify({ name: "queue" })]);
    expect(subscribed.stderr).toBe("");
    expect(subscribed.code).toBe(0);
    const lines = printed(subscribed.stdout) as Record<string, unknown>[];
    expect(lines[0]).toEqual({ request_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const statuses = lines.slice(1, -1);
    for (const status of statuses) {
      expect(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]).toContain(status.status);
    }
    expect(statuses.at(-1)).toEqual({
      status: "COMPLETED",
      logs: [],
      metrics: { inference_time: expect.any(Number) },
    });
    expect(lines.at(-1)).toEqual({ greeting: "hello queue" });

    const submitted = await python(env, [
      "submit",
      `${APP_ID}/steps`,
      JSON.stringify({ steps: 2 }),
    ]);
    expect(submitted.code).toBe(0);
    const handle = printed(submitted.stdout)[0] as Record<string, string>;
    const base = `https://${host()}/queue/${APP_ID}/requests/${handle.request_id}`;
    expect(handle).toEqual({
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      response_url: base,
      status_url: `${base}/status`,
      cancel_url: `${base}/cancel`,
    });
    const id = handle.request_id as string;
    // A stream's result is its last item.
    const result = await python(env, ["result", APP_ID, id]);
    expect(printed(result.stdout)).toEqual([{ step: 1, progress: 1 }]);
    const status = await python(env, ["status", APP_ID, id]);
    expect(printed(status.stdout)).toEqual([
      { status: "COMPLETED", logs: [], metrics: { inference_time: expect.any(Number) } },
    ]);

    const unknown = await python(env, ["status", APP_ID, "00000000-0000-4000-8000-000000000000"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ status: 404 });
  });

  it("cancels a queued request that runs when fal_client's cancel asks, aborting its ctx.signal", async () => {
    const env = { FAL_QUEUE_RUN_HOST: `${host()}/queue`, SSL_CERT_FILE: certificate.certFile };
    const app = server.app as FalDirectApp;
    app.waiting = deferred();
    app.cancelled = deferred();
    const submitted = await python(env, ["submit", `${APP_ID}/wait`, "{}"]);
    const id = (printed(submitted.stdout)[0] as { request_id: string }).request_id;
    await app.waiting.promise;
    const cancelled = await python(env, ["cancel", APP_ID, id]);
    expect(cancelled.stderr).toBe("");
    expect(cancelled.code).toBe(0);
    await app.cancelled.promise;
    const result = await python(env, ["result", APP_ID, id]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stderr)).toMatchObject({ status: 400 });
  });
});

describe("serve(App, { tls }) shutting down", () => {
  it("ends an open stream over TLS with its SHUTTING_DOWN event before it closes the connection", async () => {
    using dir = tempDir();
    const { cert, key } = makeCertificate(dir.path);
    const server = await serveForTest(FalDirectApp, { appId: APP_ID, tls: { cert, key } });
    const firstStep = deferred();
    let text = "";
    const ended = new Promise<void>((resolve, reject) => {
      const req = httpsRequest(`${server.url}/${APP_ID}/wait/stream`, {
        ca: cert,
        method: "POST",
        headers: { "content-type": "application/json", "troupe-dialect": "troupe" },
      });
      req.on("response", (response) => {
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
          if (text.includes('"step":0')) firstStep.resolve();
        });
        response.on("end", () => resolve());
        response.on("error", reject);
      });
      req.on("error", reject);
      req.end("{}");
    });
    await firstStep.promise;
    await server.close();
    await ended;
    const last = eventsOf(text).at(-1);
    expect(last?.event).toBe("error");
    expect(JSON.parse(last?.data ?? "{}")).toMatchObject({
      error: { code: "SHUTTING_DOWN" },
      fatal: true,
    });
  });

  it("lets a JSON call in progress over TLS answer before it closes that connection", async () => {
    using dir = tempDir();
    const { cert, key } = makeCertificate(dir.path);
    const server = await serveForTest(FalDirectApp, { appId: APP_ID, tls: { cert, key } });
    const app = server.app as FalDirectApp;
    app.waiting = deferred();
    app.cancelled = deferred();
    const answer = send(server, `/${APP_ID}/wait`, cert, { method: "POST", body: {} });
    await app.waiting.promise;
    await server.close();
    expect(await app.cancelled.promise).toMatchObject({ code: "SHUTTING_DOWN" });
    const answered = await answer;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ never: true });
  });
});

describe("serve(App, { tls }) refusals", () => {
  it("refuses a key that is not the certificate's, and text that is no PEM, with INVALID_ARGUMENT", async () => {
    using dir = tempDir();
    const { cert } = makeCertificate(dir.path);
    const otherKey = generateKeyPairSync("ec", { namedCurve: "prime256v1" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    for (const tls of [
      { cert, key: otherKey },
      { cert: "not a certificate", key: otherKey },
    ]) {
      await expect(serveForTest(FalDirectApp, { tls })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(
          /^Expected `tls` to hold a PEM certificate and its private key: /,
        ),
      });
    }
  });
});

describe("troupe run --tls-cert --tls-key --app-id", () => {
  /** `troupe run` in-process until the returned `stop()`. */
  function run(argv: string[], cwd: string) {
    const controller = new AbortController();
    const stdout = new FakeOutput();
    const stderr = new FakeOutput();
    const code = main({
      argv: ["run", appModule, "--port", "0", "--log-level", "silent", ...argv],
      stdout,
      stderr,
      env: {},
      signal: controller.signal,
      cwd,
    });
    const stop = async () => {
      controller.abort();
      return await code;
    };
    return { stdout, stderr, code, stop };
  }

  it("serves HTTPS under the app id it is given, and says https:// in its listening line", async () => {
    using dir = tempDir();
    const { cert } = makeCertificate(dir.path);
    const served = run(
      ["--tls-cert", "cert.pem", "--tls-key", "key.pem", "--app-id", "owner/alias"],
      dir.path,
    );
    const [, url] = (await served.stdout.waitFor(/Listening on (https:\/\/\S+)\n/)) as [
      string,
      string,
    ];
    try {
      const answer = await send({ port: Number(new URL(url).port) }, "/owner/alias", cert, {
        method: "POST",
        body: { name: "cli" },
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ greeting: "hello cli" });
    } finally {
      expect(await served.stop()).toBe(0);
    }
    expect(served.stdout.text).toBe(`Listening on ${url}\n`);
  });

  it("fails with one line and exit code 1 for one TLS flag alone, a file it cannot read, or an app id that is none", async () => {
    using dir = tempDir();
    writeFileSync(join(dir.path, "cert.pem"), "not read");
    for (const [argv, message] of [
      [
        ["--tls-cert", "cert.pem"],
        "Expected --tls-cert and --tls-key together (HTTPS needs the certificate and its key), got only --tls-cert",
      ],
      [
        ["--tls-cert", "cert.pem", "--tls-key", "missing.pem"],
        "Could not read the TLS key file missing.pem: no such file",
      ],
      [
        ["--app-id", "no-slash"],
        'Expected --app-id to be owner/alias (letters, digits, "-", "_", "."), got no-slash',
      ],
    ] as const) {
      const served = run([...argv], dir.path);
      expect(await served.code).toBe(1);
      expect(served.stderr.text).toBe(`troupe: ${message} (INVALID_ARGUMENT)\n`);
      expect(served.stdout.text).toBe("");
    }
  });
});
