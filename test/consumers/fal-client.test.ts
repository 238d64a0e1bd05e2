import {
  ApiError,
  createFalClient,
  type FalClient,
  type RequestMiddleware,
  ValidationError,
} from "@fal-ai/client";
import { beforeAll, describe, expect, it } from "vitest";
import { readStream, settle } from "./fal-stream-outcome.ts";
import {
  expectNothingInternal,
  failing,
  failureEvent,
  failureMessage,
  finalResult,
  stepsAppForSuite,
  streamedSteps,
  succeeding,
} from "./server.ts";

/** The endpoint id a user would pass; fal's client turns it into {@link FAL_APP_URL}. */
const ENDPOINT_ID = "troupe/steps";
const FAL_APP_URL = `https://fal.run/${ENDPOINT_ID}`;

/**
 * Sends what fal's client asks of fal.run to the local server instead, path and all:
 * `fal.stream` asks for `<app>/stream`, `fal.run` for `<app>` itself (troupe's `POST /`): the
 * app's own paths. fal's routes under the app id, and `proxyUrl`, are test/app/fal-direct.test.ts's.
 */
function toServer(serverUrl: string): RequestMiddleware {
  return async (request) => {
    if (!request.url.startsWith(FAL_APP_URL)) {
      throw new Error(`fal's client asked for ${request.url}, which is not under ${FAL_APP_URL}`);
    }
    return { ...request, url: serverUrl + request.url.slice(FAL_APP_URL.length) };
  };
}

interface TroupeIssue {
  readonly path: string;
  readonly message: string;
}

describe("@fal-ai/client 1.10.1, pointed at a troupe app", () => {
  const server = stepsAppForSuite();
  /** The headers of every response fal's client got, in order. */
  const responses: Headers[] = [];
  const lastResponse = (): Headers => responses.at(-1) ?? new Headers();
  let fal: FalClient;

  beforeAll(() => {
    fal = createFalClient({
      requestMiddleware: toServer(server().url),
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        responses.push(response.headers);
        return response;
      },
    });
  });

  it("yields every streamed result and resolves done() with the final result when the request succeeds", async () => {
    const stream = await fal.stream(ENDPOINT_ID, { input: succeeding });
    const { items, done } = await readStream(stream);

    expect(items).toEqual([...streamedSteps(3), finalResult]);
    expect(done).toEqual({ value: finalResult });
    // The id fal's client reports is the one troupe logs the request under.
    expect(stream.requestId).toBe(lastResponse().get("x-request-id"));
    expect(stream.requestId).toMatch(/\S/);
  });

  it("rejects done() when a rank fails after the stream has started, and hands the error event over as the last item", async () => {
    const stream = await fal.stream(ENDPOINT_ID, { input: failing });
    const { items, done } = await readStream(stream);
    const requestId = lastResponse().get("x-request-id");

    // fal's client reads every event as data whatever its name, so troupe's `event: error`
    // reaches the caller as one more item: the code and message are there.
    expect(items).toEqual([...streamedSteps(2), failureEvent]);
    expectNothingInternal(JSON.stringify(items));
    // done() can only reject with what the fetch body's reader threw when the response was
    // cut short (fal's handleError wraps it in an ApiError with status 500): the rejection
    // says the request failed, the item above says why.
    expect(done.value).toBeUndefined();
    expect(done.error).toBeInstanceOf(ApiError);
    expect(done.error).toMatchObject({ status: 500, requestId });
  });

  it("rejects fal.run with an ApiError carrying the code the stream reports for the same failure", async () => {
    const { items } = await readStream(await fal.stream(ENDPOINT_ID, { input: failing }));
    const streamed = (items.at(-1) as { error: { code: string } }).error;

    const run = await settle(fal.run(ENDPOINT_ID, { input: failing }));
    const requestId = lastResponse().get("x-request-id");

    expect(run.error).toBeInstanceOf(ApiError);
    const error = run.error as ApiError<{ error: Record<string, unknown> }>;
    expect(error.status).toBe(500);
    expect(error.requestId).toBe(requestId);
    expect(error.body.error).toMatchObject({
      code: streamed.code,
      message: expect.stringContaining(failureMessage),
      requestId,
    });
    expectNothingInternal(JSON.stringify(error.body));
  });

  it("resolves fal.run with the final result and the request id troupe gave the request", async () => {
    const run = await fal.run(ENDPOINT_ID, { input: succeeding });

    expect(run.data).toEqual(finalResult);
    expect(run.requestId).toBe(lastResponse().get("x-request-id"));
    expect(run.requestId).toMatch(/\S/);
  });

  it("rejects a body that does not match with a ValidationError whose fieldErrors name the field and the problem", async () => {
    const bad = { prompt: "A sunset", steps: 0 };
    for (const call of [
      () => fal.run(ENDPOINT_ID, { input: bad }),
      async () => (await fal.stream(ENDPOINT_ID, { input: bad })).done(),
    ]) {
      const { error } = await settle(call());
      expect(error).toBeInstanceOf(ValidationError);
      const validation = error as ValidationError;
      // troupe's own error body, beside what fal's client reads.
      const troupeBody = validation.body as unknown as { error: { issues: TroupeIssue[] } };
      const issues = troupeBody.error.issues;
      expect(validation.status).toBe(422);
      expect(validation.requestId).toBe(lastResponse().get("x-request-id"));
      expect(issues).toEqual([{ path: "steps", message: expect.stringMatching(/\S/) }]);
      // FastAPI's shape, which fal's client reads: where, in `loc`, starting at the body.
      expect(validation.fieldErrors).toEqual([
        { loc: ["body", "steps"], msg: issues[0]?.message, type: expect.stringMatching(/\S/) },
      ]);
      expect(validation.getFieldErrors("steps")).toHaveLength(1);
    }
  });
});
