import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { App, ErrorCode, endpoint, serve } from "../../src/app/index.ts";
import { DistributedRunner } from "../../src/index.ts";
import { deferred } from "../../src/internal/deferred.ts";
import { streamingWorker } from "../helpers.ts";
import { postJson, recordingPino, serveForTest } from "./helpers.ts";

const Input = z.object({ prompt: z.string() });

/** An app whose setup() starts one rank, then waits until the test releases it. */
function slowSetupApp(release: Promise<void>) {
  return class SlowSetup extends App {
    runner!: DistributedRunner;

    override async setup() {
      this.runner = new DistributedRunner({ worker: streamingWorker, worldSize: 1, gpus: [] });
      await this.runner.start();
      await release;
    }

    @endpoint("/", { input: Input })
    async run(input: z.infer<typeof Input>) {
      return await this.runner.invoke(input);
    }
  };
}

/** Each probe's status code and the `status` in its body. */
async function probes(url: string): Promise<Record<string, [number, unknown]>> {
  const out: Record<string, [number, unknown]> = {};
  for (const path of ["/health", "/health/live", "/health/ready"]) {
    const response = await fetch(`${url}${path}`);
    out[path] = [response.status, ((await response.json()) as { status: unknown }).status];
  }
  return out;
}

describe("a server whose setup() is still running", () => {
  it("listens already: the probes say starting, endpoints answer 503 UNAVAILABLE; then ready", async () => {
    const release = deferred();
    const listening = deferred<{ url: string; port: number }>();
    const serving = serveForTest(slowSetupApp(release.promise), {
      onListening: (address) => listening.resolve(address),
    });
    const { url, port } = await listening.promise;
    expect(url).toBe(`http://127.0.0.1:${port}`);

    expect(await probes(url)).toEqual({
      "/health": [503, "starting"],
      "/health/live": [200, "starting"],
      "/health/ready": [503, "starting"],
    });
    expect(await (await fetch(`${url}/health/ready`)).json()).toEqual({ status: "starting" });
    const early = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "too soon" }),
    });
    expect(early.status).toBe(503);
    const { error } = (await early.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ code: ErrorCode.UNAVAILABLE, name: "UnavailableError" });
    expect(error.requestId).toBe(early.headers.get("x-request-id"));
    // troupe's own pages answer meanwhile.
    expect((await fetch(`${url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);

    release.resolve();
    const server = await serving;
    try {
      expect(server.url).toBe(url);
      expect(await probes(url)).toEqual({
        "/health": [200, "ready"],
        "/health/live": [200, "ready"],
        "/health/ready": [200, "ready"],
      });
      const answer = await postJson(server, "/", { prompt: "now" });
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ output: "now (none, 20 steps, invoked)" });
    } finally {
      await server.close();
    }
  });

  it("rejects serve() with setup()'s error, closes the port, runs teardown() and stops the runners it left", async () => {
    const listening = deferred<string>();
    let tornDown = false;
    let runner: DistributedRunner | undefined;
    class Broken extends App {
      runner!: DistributedRunner;
      override async setup() {
        this.runner = new DistributedRunner({ worker: streamingWorker, worldSize: 1, gpus: [] });
        runner = this.runner;
        await this.runner.start();
        throw new Error("no model");
      }
      // Forgets its runner: serve() must stop it anyway.
      override async teardown() {
        tornDown = true;
      }
    }
    const serving = serveForTest(Broken, { onListening: ({ url }) => listening.resolve(url) });
    const url = await listening.promise;
    await expect(serving).rejects.toThrow("no model");
    expect(tornDown).toBe(true);
    expect(runner?.state).toBe("stopped");
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });

  it("rejects serve() on a port in use without running setup()", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as { port: number };
    let setUp = false;
    class Never extends App {
      override async setup() {
        setUp = true;
      }
    }
    try {
      await expect(serveForTest(Never, { port })).rejects.toThrow(/EADDRINUSE/);
      expect(setUp).toBe(false);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});

describe("the listening line", () => {
  it("is logged once, with the url, and not at all when onListening is given", async () => {
    const { logger, lines } = recordingPino();
    const server = await serve(App, { port: 0, logger });
    await server.close();
    const listening = lines.filter((l) => /listening/i.test(String(l.msg)));
    expect(listening).toEqual([expect.objectContaining({ msg: "listening", url: server.url })]);

    const quiet = recordingPino();
    let told: string | undefined;
    const other = await serve(App, {
      port: 0,
      logger: quiet.logger,
      onListening: ({ url }) => {
        told = url;
      },
    });
    await other.close();
    expect(told).toBe(other.url);
    expect(quiet.lines.filter((l) => /listening/i.test(String(l.msg)))).toEqual([]);
  });

  it("refuses an onListening that is not a function", async () => {
    await expect(
      serveForTest(App, { onListening: "yes" as unknown as () => void }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'Expected `onListening` to be a function, got "yes"',
    });
  });
});

describe("runners the app makes without a logger", () => {
  /** An app with a runner made with the app (a field) and one made in its setup(). */
  class TwoRunners extends App {
    made = new DistributedRunner({ worker: streamingWorker, worldSize: 1, gpus: [] });
    setUp!: DistributedRunner;

    override async setup() {
      this.setUp = new DistributedRunner({ worker: streamingWorker, worldSize: 1, gpus: [] });
      await Promise.all([this.made.start(), this.setUp.start()]);
    }
  }

  /** Kills `runner`'s rank and waits until its restarted group has answered a call. */
  async function restart(runner: DistributedRunner): Promise<void> {
    process.kill(runner.ranks[0]?.pid as number, "SIGKILL");
    await runner.invoke({ prompt: "again" });
  }

  it("log where the server logs, at its level: a rank's death at error, the restart at info", async () => {
    const log = recordingPino();
    const server = await serveForTest(TwoRunners, { logger: log.logger });
    try {
      const app = server.app as TwoRunners;
      for (const runner of [app.made, app.setUp]) {
        const before = log.lines.length;
        await restart(runner);
        const lines = log.lines.slice(before);
        expect(lines).toContainEqual(expect.objectContaining({ level: 50 }));
        expect(lines).toContainEqual(expect.objectContaining({ msg: "Rank group restarted" }));
      }
    } finally {
      await server.close();
    }
  });

  it("write nothing below the server's level", async () => {
    const log = recordingPino("warn");
    const server = await serveForTest(TwoRunners, { logger: log.logger });
    try {
      await restart((server.app as TwoRunners).setUp);
      expect(log.lines).toContainEqual(expect.objectContaining({ level: 50 }));
      expect(log.lines.filter((l) => (l.level as number) < 40)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
