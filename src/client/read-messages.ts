import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface ReadHooks {
  /** The reader starts waiting for bytes. */
  onWait(): void;
  /** Bytes arrived (heartbeats count), or the body ended or broke. */
  onBytes(): void;
  /** The server sent a `retry:` field. */
  onRetry(ms: number): void;
}

/**
 * The SSE messages of a response body, in order, as the consumer asks for them. A streaming
 * TextDecoder keeps a UTF-8 character split across chunks whole; the parser keeps an event split
 * across chunks whole. An event the body ends inside of is dropped, as the SSE spec says.
 * Leaving early cancels the body.
 */
export async function* readMessages(
  body: ReadableStream<Uint8Array>,
  hooks: ReadHooks,
): AsyncGenerator<EventSourceMessage, void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const pending: EventSourceMessage[] = [];
  const parser = createParser({
    onEvent: (message) => pending.push(message),
    onRetry: (ms) => hooks.onRetry(ms),
  });
  try {
    for (;;) {
      hooks.onWait();
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } finally {
        hooks.onBytes();
      }
      if (chunk.done) {
        parser.feed(decoder.decode());
      } else {
        parser.feed(decoder.decode(chunk.value, { stream: true }));
      }
      while (pending.length > 0) {
        yield pending.shift() as EventSourceMessage;
      }
      if (chunk.done) return;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
