/** troupe/client's queue functions, as docs/client.md shows them (test/client/queue.test.ts runs each). */
import { cancel, result, statusStream, streamQueued, submit, subscribe } from "troupe/client";

const url = "http://127.0.0.1:8000";
const appId = "local/my-app";

export async function submitAndWait(signal: AbortSignal): Promise<void> {
  // docs:start subscribe
  const output = await subscribe<{ output: string }>(
    url,
    appId,
    { prompt: "A sunset" },
    {
      path: "/",
      onQueueUpdate: (s) => {
        if (s.status === "IN_QUEUE") console.log(`${s.queuePosition} ahead`);
      },
      signal, // aborting it cancels the request in the queue
    },
  );
  console.log(output.output);
  // docs:end subscribe
}

export async function submitFollowAndCancel(): Promise<void> {
  // docs:start parts
  const { requestId } = await submit(
    url,
    appId,
    { prompt: "A sunset", steps: 20 },
    {
      path: "/stream",
      priority: "low",
      timeout: 600, // seconds from now, waiting included
    },
  );
  for await (const s of statusStream(url, appId, requestId)) console.log(s.status);

  // The request's own events, from any replica, resumed after a dropped connection:
  const events = streamQueued<{ step: number }, { output: string }>(url, appId, requestId);
  for await (const event of events.events()) {
    if (event.type === "result") console.log(`step ${event.data.step}`);
    if (event.type === "retry") console.log(`attempt ${event.attempt}: ${event.error.code}`);
  }
  const final = await result<{ output: string }>(url, appId, requestId);
  console.log(final.output, await cancel(url, appId, requestId)); // "ALREADY_COMPLETED"
  // docs:end parts
}
