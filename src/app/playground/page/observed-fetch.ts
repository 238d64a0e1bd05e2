import { SseHeader } from "../../../events/sse-names.ts";

/** What the page is told about the requests `troupe/client` makes on its own. */
export interface FetchObserver {
  /** A GET with `Last-Event-ID`: the client resumes a dropped stream after that event. */
  onResume(lastEventId: string): void;
  /** The resumed stream answered with `status`. */
  onResumed(status: number): void;
  /** A DELETE, the client cancelling the request on the server, and how it went. */
  onCancel(path: string, outcome: string): void;
}

/**
 * A `fetch` for `troupe/client`'s `fetch` option that tells `observer` when the client resumes
 * a stream or cancels a request, so the page can show it; every request goes through unchanged.
 */
export function observedFetch(observer: FetchObserver): typeof fetch {
  return async (input, init) => {
    const method = (init?.method ?? "GET").toUpperCase();
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    const lastEventId = new Headers(init?.headers).get(SseHeader.lastEventId);
    if (method === "GET" && lastEventId !== null) {
      observer.onResume(lastEventId);
      const response = await fetch(input, init);
      observer.onResumed(response.status);
      return response;
    }
    if (method !== "DELETE") return await fetch(input, init);
    try {
      const response = await fetch(input, init);
      // 404: the server had already let the request go.
      observer.onCancel(url.pathname, `answered ${response.status}`);
      return response;
    } catch (error) {
      observer.onCancel(url.pathname, `failed: ${(error as Error).message}`);
      throw error;
    }
  };
}
