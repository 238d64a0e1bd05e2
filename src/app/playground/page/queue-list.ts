import {
  cancel,
  type QueueCallOptions,
  type QueueStatus,
  RequestError,
  result,
  statusStream,
  submit,
} from "../../../client/index.ts";
import { el } from "./el.ts";
import type { PageElements } from "./page-elements.ts";
import { displayJson } from "./result-values.ts";
import { StreamSlots } from "./stream-slots.ts";

/** Status streams open at once, leaving the page connections for everything else. */
const MAX_STATUS_STREAMS = 4;

/** Where the page's queued requests go: the app's id, and the key the server wants. */
export interface QueueTarget {
  readonly appId: string;
  readonly apiKey: string | undefined;
}

/**
 * What a listed request shows, as its `data-status` says it (the browser tests wait on it):
 * fal's states, with a completed one told apart by how it ended, and `LOST` when the page could
 * no longer follow it.
 */
export type QueuedState =
  | "IN_QUEUE"
  | "IN_PROGRESS"
  | "COMPLETED"
  | "FAILED"
  | "CANCELLED"
  | "LOST";

/**
 * The page's queued requests, newest first: each with its live status and queue position (from
 * its status stream), its result or error once it completes, and a button that cancels it.
 */
export class QueueList {
  private readonly slots = new StreamSlots(MAX_STATUS_STREAMS);

  constructor(
    private readonly ui: PageElements,
    private readonly target: () => QueueTarget,
  ) {}

  /** Submits `body` to the endpoint at `path` and lists it; rejects with the client's error. */
  async submit(path: string, body: unknown): Promise<string> {
    const { appId } = this.target();
    const submitted = await submit(location.origin, appId, body, { path, ...this.options() });
    const entry = new QueuedEntry(submitted.requestId, path, () => this.cancel(entry));
    entry.showPosition(submitted.queuePosition);
    this.ui.queued.prepend(entry.node);
    this.ui.queuePanel.hidden = false;
    void this.follow(entry);
    return submitted.requestId;
  }

  /** Follows `entry`'s status stream to COMPLETED, then shows its result or its error. */
  private async follow(entry: QueuedEntry): Promise<void> {
    const { appId } = this.target();
    const release = await this.slots.acquire();
    let last: QueueStatus | undefined;
    try {
      for await (const current of statusStream(location.origin, appId, entry.id, this.options())) {
        last = current;
        entry.show(current);
      }
    } catch (error) {
      entry.lost(error);
      return;
    } finally {
      release();
    }
    if (last?.status !== "COMPLETED" || last.errorType !== undefined) return;
    try {
      entry.showResult(await result(location.origin, appId, entry.id, this.options()));
    } catch (error) {
      entry.lost(error);
    }
  }

  private async cancel(entry: QueuedEntry): Promise<void> {
    const { appId } = this.target();
    entry.cancelling();
    try {
      entry.note(await cancel(location.origin, appId, entry.id, this.options()));
    } catch (error) {
      entry.note(describe(error));
    }
  }

  private options(): QueueCallOptions {
    const { apiKey } = this.target();
    return apiKey === undefined ? {} : { apiKey };
  }
}

/** One listed request's element and what it shows. */
class QueuedEntry {
  readonly node: HTMLLIElement;
  private readonly state: HTMLElement;
  private readonly button: HTMLButtonElement;
  private readonly output: HTMLElement;
  private readonly remark: HTMLElement;

  constructor(
    readonly id: string,
    path: string,
    onCancel: () => void,
  ) {
    this.node = el("li", { "data-testid": "queued-request", "data-request-id": id });
    const head = el("div", { class: "queued-head" });
    this.state = el("span", { "data-field": "state" });
    this.button = el("button", { type: "button", "data-testid": "queued-cancel" }, "Cancel");
    this.button.addEventListener("click", onCancel);
    head.append(
      el("code", { "data-field": "request-id" }, id),
      el("span", { class: "muted", "data-field": "path" }, `POST ${path}`),
      this.state,
      this.button,
    );
    this.remark = el("span", { class: "muted", "data-field": "note" });
    head.append(this.remark);
    this.output = el("pre", { "data-field": "result" });
    this.output.hidden = true;
    this.node.append(head, this.output);
  }

  showPosition(position: number): void {
    this.setState("IN_QUEUE", position === 0 ? "next in line" : `${position} ahead`);
    this.node.setAttribute("data-position", String(position));
  }

  show(current: QueueStatus): void {
    switch (current.status) {
      case "IN_QUEUE":
        this.showPosition(current.queuePosition);
        return;
      case "IN_PROGRESS":
        this.node.removeAttribute("data-position");
        this.setState("IN_PROGRESS", "running");
        return;
      case "COMPLETED":
        this.node.removeAttribute("data-position");
        this.button.disabled = true;
        if (current.errorType === undefined) {
          this.setState("COMPLETED", "done");
        } else {
          const cancelled = current.errorType === "ABORTED";
          this.setState(cancelled ? "CANCELLED" : "FAILED", cancelled ? "cancelled" : "failed");
          this.showText(`${current.errorType}: ${current.error ?? ""}`, "error");
        }
    }
  }

  showResult(value: unknown): void {
    this.showText(displayJson(value, 2) ?? "(no content)", "result");
  }

  /** The page lost track of it (the stream broke, the result could not be read). */
  lost(error: unknown): void {
    this.setState("LOST", "could not follow");
    this.showText(describe(error), "error");
  }

  cancelling(): void {
    this.button.disabled = true;
    this.note("cancelling…");
  }

  note(text: string): void {
    this.remark.textContent = text;
  }

  private setState(state: QueuedState, text: string): void {
    this.node.setAttribute("data-status", state);
    this.state.textContent = text;
  }

  private showText(text: string, kind: "result" | "error"): void {
    this.output.textContent = text;
    this.output.setAttribute("data-kind", kind);
    this.output.hidden = false;
  }
}

function describe(error: unknown): string {
  if (error instanceof RequestError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
