/**
 * The fixture server every consumer test reads: the steps app (fal's app pattern on two ranks)
 * on port 0, and the requests the tests send it.
 */
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, beforeAll, expect } from "vitest";
import { type ServerHandle, serve } from "../../src/app/index.ts";
import StepsApp, { DIVERGING_AT } from "../fixtures/consumers/steps-app.ts";
import { divergedMessage } from "../fixtures/consumers/steps-worker.ts";

/** A request that streams three steps and then returns its final result. */
export const succeeding = { prompt: "A sunset", steps: 3 } as const;

/** A request whose rank 0 throws after it has streamed two steps: the response has started. */
export const failing = { prompt: "A sunset", steps: 3, failAt: DIVERGING_AT } as const;

/** The message the failing request's rank throws with. */
export const failureMessage = divergedMessage(failing.failAt);

/** The results a request streams before it ends or fails, in order. */
export function streamedSteps(
  count: number,
  of: number = succeeding.steps,
): { step: number; progress: number }[] {
  return Array.from({ length: count }, (_, step) => ({ step, progress: (step + 1) / of }));
}

/** The final result of {@link succeeding}. */
export const finalResult = { output: "A sunset (3 steps)" };

/**
 * What a consumer that parses every event's data gets for the failing request's error event:
 * troupe's error with a stable code and the rank's message.
 */
export const failureEvent = {
  error: expect.objectContaining({
    code: expect.stringMatching(/^[A-Z_]+$/),
    message: expect.stringContaining(failureMessage),
  }),
  fatal: true,
};

/** Serves the steps app on 127.0.0.1, port 0, with a silent logger. */
export function serveStepsApp(): Promise<ServerHandle> {
  return serve(StepsApp, { host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) });
}

/**
 * Serves the steps app for the enclosing `describe` (started before its tests, closed after
 * them); the returned function gives the running server.
 */
export function stepsAppForSuite(): () => ServerHandle {
  let server: ServerHandle | undefined;
  beforeAll(async () => {
    server = await serveStepsApp();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (server === undefined) throw new Error("The steps app is served only while the suite runs");
    return server;
  };
}

const repository = fileURLToPath(new URL("../..", import.meta.url));

/** Fails if `text`, something a consumer received, carries a stack trace or a server path. */
export function expectNothingInternal(text: string): void {
  expect(text).not.toContain('"stack"');
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toContain(repository);
}
