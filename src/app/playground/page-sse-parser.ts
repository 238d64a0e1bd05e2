/**
 * The playground page's Server-Sent Events parser, as browser JavaScript source. It is a string,
 * not a function, so that the page ships exactly what is written here whatever compiles this
 * module; the tests evaluate the same string.
 *
 * `createSseParser({ onEvent, onComment, onRetry })` returns `{ feed(bytes), end() }`. Bytes go
 * through one streaming `TextDecoder`, so a multi-byte character split across chunks is decoded
 * once both halves are in. Lines end with CRLF, LF or CR; a CR at the very end of what has arrived
 * is held back, because the LF that would make it a CRLF may be in the next chunk. An event is
 * dispatched on a blank line and only if it had `data:` (as the HTML spec says); whatever is
 * unfinished when the stream ends, a last line ending in that held-back CR included, is dropped.
 */
export const SSE_PARSER_SOURCE = String.raw`
function createSseParser(handlers) {
  var decoder = new TextDecoder();
  var buffer = "";
  var scanFrom = 0;
  var data = [];
  var eventType = "";
  var lastEventId = "";
  var eventId = undefined;

  function dispatch() {
    if (data.length > 0) {
      handlers.onEvent({
        event: eventType === "" ? "message" : eventType,
        data: data.join("\n"),
        id: eventId,
        lastEventId: lastEventId,
      });
    }
    data = [];
    eventType = "";
    eventId = undefined;
  }

  function processLine(line) {
    if (line === "") return dispatch();
    if (line.charCodeAt(0) === 58 /* ":" */) {
      if (handlers.onComment) handlers.onComment(line.slice(1).replace(/^ /, ""));
      return;
    }
    var colon = line.indexOf(":");
    var field = colon === -1 ? line : line.slice(0, colon);
    var value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* " " */) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") eventType = value;
    else if (field === "id") {
      if (value.indexOf("\u0000") === -1) {
        lastEventId = value;
        eventId = value;
      }
    } else if (field === "retry") {
      if (/^[0-9]+$/.test(value) && handlers.onRetry) handlers.onRetry(Number(value));
    }
  }

  function drain() {
    var lineEnd = /\r\n?|\n/g;
    lineEnd.lastIndex = scanFrom;
    var start = 0;
    var match;
    while ((match = lineEnd.exec(buffer)) !== null) {
      if (match[0] === "\r" && match.index === buffer.length - 1) break;
      processLine(buffer.slice(start, match.index));
      start = match.index + match[0].length;
    }
    buffer = buffer.slice(start);
    // Nothing before the last character can start a line ending that was not already seen.
    scanFrom = Math.max(0, buffer.length - 1);
  }

  return {
    feed: function (bytes) {
      buffer += decoder.decode(bytes, { stream: true });
      drain();
    },
    end: function () {
      decoder.decode();
      buffer = "";
      scanFrom = 0;
      data = [];
    },
  };
}
`;
