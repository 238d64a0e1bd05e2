import { el } from "./el.ts";
import { safeImageUrl } from "./image-url.ts";
import type { PageElements } from "./page-elements.ts";
import {
  displayJson,
  type FoundImage,
  findImages,
  progressOf,
  unwrapRank,
} from "./result-values.ts";

/** What the page shows of a run, as `data-status` says it (the browser tests wait on it). */
export type RunStatus =
  | "loading"
  | "needs-key"
  | "idle"
  | "sending"
  | "queued"
  | "running"
  | "reconnecting"
  | "done"
  | "failed"
  | "cancelled";

/** What the error panel lists; each fact left out when absent. */
export interface ErrorFacts {
  readonly status?: number | string | undefined;
  readonly code?: string | undefined;
  readonly message?: string | undefined;
  readonly rank?: number | undefined;
  readonly requestId?: string | undefined;
  readonly issues?: readonly { readonly path?: unknown; readonly message?: unknown }[] | undefined;
}

const MAX_LOG_ENTRIES = 200;

/**
 * The output half of the page: status, queue position, request id, progress, previews, the
 * result, errors, and the events log (its newest 200 entries).
 */
export class OutputPanel {
  constructor(
    private readonly ui: PageElements,
    /** What a relative image URL is resolved against. */
    private readonly base: string,
  ) {}

  /** Clears what a previous run showed. */
  reset(): void {
    this.ui.error.hidden = true;
    this.ui.log.textContent = "";
    this.ui.result.textContent = "";
    this.ui.previews.textContent = "";
    this.setQueue(null);
    this.setRequestId(undefined);
    this.setProgress(0);
  }

  get status(): string {
    return this.ui.status.getAttribute("data-status") ?? "";
  }

  setStatus(status: RunStatus): void {
    this.ui.status.textContent = status;
    this.ui.status.setAttribute("data-status", status);
  }

  setProgress(fraction: number): void {
    const percent = Math.round(fraction * 100);
    this.ui.progress.setAttribute("aria-valuenow", String(percent));
    this.ui.progressFill.style.width = `${percent}%`;
    this.ui.progressLabel.textContent = `${percent}%`;
  }

  /** Shows how many requests are ahead; `null` hides it. */
  setQueue(position: number | null): void {
    const { queue } = this.ui;
    if (position === null) {
      queue.hidden = true;
      queue.removeAttribute("data-position");
      return;
    }
    queue.hidden = false;
    queue.setAttribute("data-position", String(position));
    queue.textContent = position === 0 ? "queued: next in line" : `queued: ${position} ahead`;
  }

  setRequestId(id: string | undefined): void {
    const text = id ?? "";
    if (this.ui.requestId.textContent !== text) this.ui.requestId.textContent = text;
  }

  /** One log entry: `#<id> <kind> <text>`. */
  log(kind: string, text: string, id?: number): void {
    const { log } = this.ui;
    const entry = el("li", { class: `log-${kind}`, "data-event": kind });
    entry.appendChild(
      el("span", { class: "log-kind" }, `${id === undefined ? "" : `#${id} `}${kind}`),
    );
    entry.appendChild(document.createTextNode(` ${text}`));
    log.appendChild(entry);
    while (log.childElementCount > MAX_LOG_ENTRIES) log.firstElementChild?.remove();
    log.scrollTop = log.scrollHeight;
  }

  /** An intermediate result: its progress and images, and a log entry. */
  showIntermediate(value: unknown, id: number | undefined): void {
    const inner = unwrapRank(value);
    const fraction = progressOf(inner);
    if (fraction !== null) this.setProgress(fraction);
    const images = findImages(inner);
    if (images.length > 0) this.renderImages(this.ui.previews, images, "preview");
    this.log("result", displayJson(value) ?? "", id);
  }

  /** The final result, its images first; `note` says where it came from when that is not plain. */
  showResult(value: unknown, note?: string): void {
    const { result } = this.ui;
    result.textContent = "";
    if (note !== undefined)
      result.appendChild(el("p", { class: "muted", "data-field": "note" }, note));
    const images = findImages(value);
    if (images.length > 0) {
      const gallery = el("div", { class: "images" });
      result.appendChild(gallery);
      this.renderImages(gallery, images, "result-image");
    }
    const text = displayJson(value, 2);
    result.appendChild(el("pre", {}, text === undefined ? "(no content)" : text));
  }

  showError(error: ErrorFacts): void {
    const panel = this.ui.error;
    panel.textContent = "";
    const list = el("dl");
    const facts: [string, unknown][] = [
      ["status", error.status],
      ["code", error.code],
      ["message", error.message],
      ["rank", error.rank],
      ["request id", error.requestId],
    ];
    for (const [name, value] of facts) {
      if (value === undefined || value === null || value === "") continue;
      list.appendChild(el("dt", {}, name));
      list.appendChild(el("dd", { "data-field": name.replace(" ", "-") }, String(value)));
    }
    panel.appendChild(list);
    if (error.issues !== undefined && error.issues.length > 0) {
      const issues = el("ul", { "data-field": "issues" });
      for (const issue of error.issues) {
        const where = Array.isArray(issue.path) ? issue.path.join(".") : String(issue.path ?? "");
        issues.appendChild(el("li", {}, `${where ? `${where}: ` : ""}${String(issue.message)}`));
      }
      panel.appendChild(issues);
    }
    panel.hidden = false;
  }

  /**
   * Shows `images` in `container`, reusing its `<img>`s so that an unchanged picture is not
   * decoded again. An image whose URL is not safe to load is left out.
   */
  private renderImages(
    container: HTMLElement,
    images: readonly FoundImage[],
    testId: string,
  ): void {
    const shown = images.flatMap((image) => {
      const url = safeImageUrl(image.url, this.base);
      return url === undefined ? [] : [{ ...image, url }];
    });
    while (container.childElementCount > shown.length) container.lastElementChild?.remove();
    shown.forEach((image, i) => {
      let img = container.children[i];
      if (img === undefined) {
        img = el("img", { "data-testid": testId, alt: `${testId} ${i + 1}` });
        container.appendChild(img);
      }
      if (img.getAttribute("src") !== image.url) img.setAttribute("src", image.url);
      if (image.width !== undefined) img.setAttribute("width", String(image.width));
      if (image.height !== undefined) img.setAttribute("height", String(image.height));
    });
  }
}
