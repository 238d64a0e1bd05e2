/**
 * The playground page's behaviour, as browser JavaScript source: list the app's endpoints from
 * `/openapi.json`, build the selected one's form, run it, and show what comes back. Streaming
 * endpoints are read with `fetch` in troupe's dialect (`troupe-protocol: 1`): queue position,
 * ids, and a final `done` or fatal `error` event, so a stream that just stops is told apart from
 * one that finished, and a dropped connection is resumed after the last event id it read.
 * Cancel aborts the fetch and sends `DELETE /requests/<id>`: in this dialect a connection that
 * goes away leaves the request running for a while, waiting to be resumed, so only the DELETE
 * cancels it on every rank at once.
 *
 * Uses `createSseParser`, `buildForm`, `findImages`, `progressOf`, `unwrapRank` and `displayJson`
 * from the sibling sources, which are concatenated into the same script.
 */
// biome-ignore lint/complexity/noUselessStringRaw: raw, so a backslash added later reaches the page as written
export const MAIN_SOURCE = String.raw`
var MAX_LOG_ENTRIES = 200;
var MAX_RESUME_ATTEMPTS = 5;
var $ = function (id) {
  return document.getElementById(id);
};
var ui = {
  endpoint: $("endpoint"),
  description: $("endpoint-description"),
  form: $("form"),
  fields: $("fields"),
  run: $("run"),
  cancel: $("cancel"),
  status: $("status"),
  queue: $("queue"),
  requestId: $("request-id"),
  progress: $("progress"),
  progressFill: $("progress-fill"),
  progressLabel: $("progress-label"),
  error: $("error"),
  previews: $("previews"),
  result: $("result"),
  log: $("log"),
};
var endpoints = [];
var form = null;
var active = null;

function el(tag, attributes, text) {
  var node = document.createElement(tag);
  Object.keys(attributes || {}).forEach(function (name) {
    node.setAttribute(name, attributes[name]);
  });
  if (text !== undefined) node.textContent = text;
  return node;
}

function listEndpoints(doc) {
  var out = [];
  var paths = (doc && doc.paths) || {};
  Object.keys(paths).forEach(function (path) {
    var operation = paths[path] && paths[path].post;
    if (!operation) return;
    var body = operation.requestBody && operation.requestBody.content;
    var schema = body && body["application/json"] ? body["application/json"].schema : undefined;
    var ok = operation.responses && (operation.responses["200"] || operation.responses.default);
    var content = (ok && ok.content) || {};
    out.push({
      path: path,
      summary: operation.summary || operation.description || "",
      streaming: operation["x-troupe-streaming"] === true || "text/event-stream" in content,
      schema: schema,
    });
  });
  return out;
}

function selectEndpoint(doc, index) {
  var endpoint = endpoints[index];
  ui.description.textContent = endpoint.summary;
  form = buildForm(ui.fields, endpoint.schema, doc);
}

function setStatus(status) {
  ui.status.textContent = status;
  ui.status.setAttribute("data-status", status);
}

function setProgress(fraction) {
  var percent = Math.round(fraction * 100);
  ui.progress.setAttribute("aria-valuenow", String(percent));
  ui.progressFill.style.width = percent + "%";
  ui.progressLabel.textContent = percent + "%";
}

function setQueue(position) {
  if (position === null) {
    ui.queue.hidden = true;
    ui.queue.removeAttribute("data-position");
    return;
  }
  ui.queue.hidden = false;
  ui.queue.setAttribute("data-position", String(position));
  ui.queue.textContent =
    position === 0 ? "queued: next in line" : "queued: " + position + " ahead";
}

function setRequestId(id) {
  ui.requestId.textContent = id || "";
}

function log(kind, text, id) {
  var entry = el("li", { class: "log-" + kind, "data-event": kind });
  entry.appendChild(el("span", { class: "log-kind" }, (id ? "#" + id + " " : "") + kind));
  entry.appendChild(document.createTextNode(" " + text));
  ui.log.appendChild(entry);
  while (ui.log.childElementCount > MAX_LOG_ENTRIES) ui.log.removeChild(ui.log.firstElementChild);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function renderImages(container, images, testId) {
  while (container.childElementCount > images.length) container.removeChild(container.lastElementChild);
  images.forEach(function (image, i) {
    var img = container.children[i];
    if (!img) {
      img = el("img", { "data-testid": testId, alt: testId + " " + (i + 1) });
      container.appendChild(img);
    }
    if (img.getAttribute("src") !== image.url) img.setAttribute("src", image.url);
    if (typeof image.width === "number") img.setAttribute("width", String(image.width));
    if (typeof image.height === "number") img.setAttribute("height", String(image.height));
  });
}

function showResult(value, note) {
  ui.result.textContent = "";
  if (note) ui.result.appendChild(el("p", { class: "muted", "data-field": "note" }, note));
  var images = findImages(value);
  if (images.length > 0) {
    var gallery = el("div", { class: "images" });
    ui.result.appendChild(gallery);
    renderImages(gallery, images, "result-image");
  }
  var text = displayJson(value, 2);
  ui.result.appendChild(el("pre", {}, text === undefined ? "(no content)" : text));
}

/** error: { status?, code?, message?, requestId?, rank?, issues? } */
function showError(error) {
  ui.error.textContent = "";
  var list = el("dl");
  [
    ["status", error.status],
    ["code", error.code],
    ["message", error.message],
    ["rank", error.rank],
    ["request id", error.requestId],
  ].forEach(function (pair) {
    if (pair[1] === undefined || pair[1] === null || pair[1] === "") return;
    list.appendChild(el("dt", {}, pair[0]));
    list.appendChild(el("dd", { "data-field": pair[0].replace(" ", "-") }, String(pair[1])));
  });
  ui.error.appendChild(list);
  if (Array.isArray(error.issues) && error.issues.length > 0) {
    var issues = el("ul", { "data-field": "issues" });
    error.issues.forEach(function (issue) {
      var where = Array.isArray(issue.path) ? issue.path.join(".") : String(issue.path || "");
      issues.appendChild(el("li", {}, (where ? where + ": " : "") + issue.message));
    });
    ui.error.appendChild(issues);
  }
  ui.error.hidden = false;
}

async function showHttpError(response) {
  var text = await response.text();
  var body = null;
  try {
    body = JSON.parse(text);
  } catch (_) {}
  var error = body && body.error && typeof body.error === "object" ? body.error : { message: text };
  showError({
    status: response.status + (response.statusText ? " " + response.statusText : ""),
    code: error.code,
    message: error.message,
    requestId: error.requestId || response.headers.get("x-request-id"),
    issues: error.issues,
  });
  log("error", response.status + " " + (error.code || "") + " " + (error.message || ""));
  setStatus("failed");
}

function onResult(value, id) {
  var inner = unwrapRank(value);
  var fraction = progressOf(inner);
  if (fraction !== null) setProgress(fraction);
  var images = findImages(inner);
  if (images.length > 0) renderImages(ui.previews, images, "preview");
  log("result", displayJson(value), id);
}

function parseData(event) {
  try {
    return JSON.parse(event.data);
  } catch (_) {
    return event.data;
  }
}

/** Handles one event; returns true once the request has ended (done or fatal error). */
function onEvent(event, response, run) {
  var data = parseData(event);
  switch (event.event) {
    case "queued":
      setStatus("queued");
      setQueue(data && typeof data.position === "number" ? data.position : null);
      log("queued", "position " + (data && data.position));
      return false;
    case "started":
      setQueue(null);
      setStatus("running");
      log("started", "");
      return false;
    case "message":
    case "result":
      if (ui.status.getAttribute("data-status") !== "running") setStatus("running");
      setQueue(null);
      run.lastResult = data;
      onResult(data, event.id);
      return false;
    case "done":
      setProgress(1);
      // A plain async iterable (not a runner's stream) has no final value of its own: the server
      // ends it with "done: null", and by fal's convention its last result is the final one.
      if (data === null && run.lastResult !== undefined) {
        showResult(run.lastResult, "The stream's last result (the endpoint sent no final value).");
      } else {
        showResult(data);
      }
      setStatus("done");
      log("done", displayJson(data), event.id);
      return true;
    case "error": {
      var error = (data && data.error) || { message: String(event.data) };
      log(data && data.fatal === false ? "warning" : "error", displayJson(error), event.id);
      if (data && data.fatal === false) return false;
      showError({
        status: response.status,
        code: error.code,
        message: error.message,
        rank: error.rank,
        requestId: error.requestId || run.requestId,
      });
      setStatus("failed");
      return true;
    }
    default:
      log(event.event, event.data, event.id);
      return false;
  }
}

/**
 * An id for the request, sent as x-request-id before any answer, so that Cancel can name the
 * request while it still waits for one (a call that does not stream answers only at the end).
 * crypto.randomUUID needs a secure context; getRandomValues does not.
 */
function newRequestId() {
  var bytes = crypto.getRandomValues(new Uint8Array(16));
  return "playground-" + Array.prototype.map.call(bytes, function (b) {
    return (b < 16 ? "0" : "") + b.toString(16);
  }).join("");
}

/** The server keeps the id it was sent unless another request has it; its answer says which. */
function adoptRequestId(run, response) {
  run.requestId = response.headers.get("x-request-id") || run.requestId;
  setRequestId(run.requestId);
}

async function runStreaming(endpoint, body, run) {
  var response = await fetch(endpoint.path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "text/event-stream",
      "troupe-protocol": "1",
      "x-request-id": run.requestId,
    },
    body: JSON.stringify(body),
    signal: run.controller.signal,
  });
  adoptRequestId(run, response);
  if (!response.ok) return showHttpError(response);
  if ((response.headers.get("content-type") || "").indexOf("text/event-stream") === -1) {
    var plain = await response.text();
    showResult(plain ? JSON.parse(plain) : null);
    return setStatus("done");
  }
  var stream = { finished: false, lastEventId: "", retry: 1000, received: 0 };
  await readEvents(response, run, stream);
  // A dropped connection (not a cancel) leaves the request running on the server for a while:
  // reconnect and have it replay every event after the last one read (docs/protocol.md, Resume).
  var attempts = 0;
  while (!stream.finished && !run.cancelled && run.requestId && attempts < MAX_RESUME_ATTEMPTS) {
    attempts++;
    log("resume", "connection lost; reconnecting after event #" + (stream.lastEventId || "0"));
    setStatus("reconnecting");
    await pause(stream.retry, run.controller.signal);
    if (run.cancelled) break;
    var before = stream.received;
    var again = await fetch("/requests/" + encodeURIComponent(run.requestId) + "/events", {
      headers: {
        accept: "text/event-stream",
        "troupe-protocol": "1",
        "last-event-id": stream.lastEventId || "0",
      },
      signal: run.controller.signal,
    });
    if (!again.ok) return showHttpError(again);
    setStatus("running");
    await readEvents(again, run, stream);
    if (stream.received > before) attempts = 0;
  }
  if (run.cancelled) throw new DOMException("Cancelled", "AbortError");
  if (!stream.finished) {
    showError({
      status: response.status,
      code: "STREAM_ENDED",
      message: "The stream ended before its final result.",
      requestId: run.requestId,
    });
    setStatus("failed");
  }
}

/** Reads one connection's events into the page; a network error ends it like the stream's end. */
async function readEvents(response, run, stream) {
  var parser = createSseParser({
    onEvent: function (event) {
      if (event.id !== undefined) stream.lastEventId = event.id;
      stream.received++;
      if (!stream.finished && onEvent(event, response, run)) stream.finished = true;
    },
    onRetry: function (ms) {
      stream.retry = ms;
      log("retry", ms + " ms");
    },
  });
  var reader = response.body.getReader();
  try {
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      parser.feed(chunk.value);
    }
  } catch (error) {
    if (run.cancelled) throw error;
    log("disconnected", String((error && error.message) || error));
  } finally {
    parser.end();
  }
}

function pause(ms, signal) {
  return new Promise(function (resolve) {
    var timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

async function runOnce(endpoint, body, run) {
  setStatus("running");
  var response = await fetch(endpoint.path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      "x-request-id": run.requestId,
    },
    body: JSON.stringify(body),
    signal: run.controller.signal,
  });
  adoptRequestId(run, response);
  if (!response.ok) return showHttpError(response);
  var text = await response.text();
  var value = text === "" ? null : JSON.parse(text);
  setProgress(1);
  showResult(value);
  log("done", displayJson(value));
  setStatus("done");
}

async function run() {
  if (active) return;
  var endpoint = endpoints[Number(ui.endpoint.value)];
  if (!endpoint || !form) return;
  ui.error.hidden = true;
  var body;
  try {
    body = form.read();
  } catch (error) {
    showError({ code: "INVALID_INPUT", message: error.message });
    return;
  }
  var current = {
    controller: new AbortController(),
    requestId: newRequestId(),
    cancelled: false,
    lastResult: undefined,
  };
  active = current;
  ui.log.textContent = "";
  ui.result.textContent = "";
  ui.previews.textContent = "";
  setQueue(null);
  setRequestId(current.requestId);
  setProgress(0);
  setStatus("sending");
  ui.run.disabled = true;
  ui.cancel.disabled = false;
  ui.endpoint.disabled = true;
  try {
    if (endpoint.streaming) await runStreaming(endpoint, body, current);
    else await runOnce(endpoint, body, current);
  } catch (error) {
    if (current.cancelled) {
      setStatus("cancelled");
    } else {
      showError({
        code: error && error.name === "SyntaxError" ? "INVALID_RESPONSE" : "NETWORK_ERROR",
        message: String((error && error.message) || error),
        requestId: current.requestId,
      });
      setStatus("failed");
    }
  } finally {
    active = null;
    setQueue(null);
    ui.run.disabled = false;
    ui.cancel.disabled = true;
    ui.endpoint.disabled = false;
  }
}

function cancel() {
  var current = active;
  if (!current || current.cancelled) return;
  current.cancelled = true;
  current.controller.abort();
  log("cancel", "aborted by you");
  if (!current.requestId) return;
  fetch("/requests/" + encodeURIComponent(current.requestId), {
    method: "DELETE",
    headers: { "troupe-protocol": "1" },
  }).then(
    function (response) {
      // 404: the server had already let it go (a call that does not stream ends when its
      // connection does).
      log("cancel", "DELETE /requests/" + current.requestId + " answered " + response.status);
    },
    function (error) {
      log("cancel", "DELETE /requests/" + current.requestId + " failed: " + error.message);
    },
  );
}

async function start() {
  setStatus("loading");
  try {
    var response = await fetch("/openapi.json", { headers: { accept: "application/json" } });
    if (!response.ok) {
      await showHttpError(response);
      return;
    }
    var doc = await response.json();
    endpoints = listEndpoints(doc);
    ui.endpoint.textContent = "";
    endpoints.forEach(function (endpoint, i) {
      var label = "POST " + endpoint.path + (endpoint.streaming ? " · streaming" : "");
      ui.endpoint.appendChild(el("option", { value: String(i) }, label));
    });
    var wanted = new URLSearchParams(location.search).get("endpoint");
    var index = Math.max(
      0,
      endpoints.findIndex(function (e) {
        return e.path === wanted;
      }),
    );
    if (endpoints.length === 0) {
      showError({ code: "NO_ENDPOINTS", message: "/openapi.json lists no POST endpoints." });
      setStatus("idle");
      return;
    }
    ui.endpoint.value = String(index);
    selectEndpoint(doc, index);
    ui.endpoint.addEventListener("change", function () {
      selectEndpoint(doc, Number(ui.endpoint.value));
    });
    ui.run.disabled = false;
    setStatus("idle");
    document.documentElement.setAttribute("data-ready", "true");
  } catch (error) {
    showError({ code: "OPENAPI_UNAVAILABLE", message: String((error && error.message) || error) });
    setStatus("failed");
  }
}

ui.form.addEventListener("submit", function (event) {
  event.preventDefault();
  void run();
});
ui.cancel.addEventListener("click", cancel);
void start();
`;
