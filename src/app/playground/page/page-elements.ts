/** The elements of the playground's HTML (playground-html.ts) that its script drives. */
export interface PageElements {
  /** The header: `data-titled="false"` when the server sent the page without the app's title. */
  readonly header: HTMLElement;
  readonly title: HTMLElement;
  /** Asks for the server's API key; hidden unless the server wants one. */
  readonly keyForm: HTMLFormElement;
  readonly keyInput: HTMLInputElement;
  readonly keyMessage: HTMLElement;
  readonly endpoint: HTMLSelectElement;
  readonly description: HTMLElement;
  readonly form: HTMLFormElement;
  readonly fields: HTMLElement;
  readonly run: HTMLButtonElement;
  readonly cancel: HTMLButtonElement;
  /** "Submit to the queue"; its label stays hidden until the page knows the app's id. */
  readonly viaQueue: HTMLInputElement;
  readonly viaQueueLabel: HTMLElement;
  readonly status: HTMLElement;
  readonly queue: HTMLElement;
  readonly requestId: HTMLElement;
  readonly progress: HTMLElement;
  readonly progressFill: HTMLElement;
  readonly progressLabel: HTMLElement;
  readonly error: HTMLElement;
  readonly previews: HTMLElement;
  readonly result: HTMLElement;
  readonly log: HTMLElement;
  /** The page's queued requests; hidden until the first. */
  readonly queuePanel: HTMLElement;
  readonly queued: HTMLElement;
}

/** Looks up every element the script needs; throws, naming it, if the page lacks one. */
export function pageElements(doc: Document): PageElements {
  const byId = <T extends HTMLElement>(id: string, kind: { new (): T; prototype: T }): T => {
    const node = doc.getElementById(id);
    if (!(node instanceof kind)) throw new Error(`The playground page has no #${id} ${kind.name}`);
    return node;
  };
  const header = doc.querySelector("header");
  if (!(header instanceof HTMLElement)) throw new Error("The playground page has no header");
  return {
    header,
    title: byId("title", HTMLElement),
    keyForm: byId("key-form", HTMLFormElement),
    keyInput: byId("api-key", HTMLInputElement),
    keyMessage: byId("key-message", HTMLElement),
    endpoint: byId("endpoint", HTMLSelectElement),
    description: byId("endpoint-description", HTMLElement),
    form: byId("form", HTMLFormElement),
    fields: byId("fields", HTMLElement),
    run: byId("run", HTMLButtonElement),
    cancel: byId("cancel", HTMLButtonElement),
    viaQueue: byId("via-queue", HTMLInputElement),
    viaQueueLabel: byId("via-queue-label", HTMLElement),
    status: byId("status", HTMLElement),
    queue: byId("queue", HTMLElement),
    requestId: byId("request-id", HTMLElement),
    progress: byId("progress", HTMLElement),
    progressFill: byId("progress-fill", HTMLElement),
    progressLabel: byId("progress-label", HTMLElement),
    error: byId("error", HTMLElement),
    previews: byId("previews", HTMLElement),
    result: byId("result", HTMLElement),
    log: byId("log", HTMLElement),
    queuePanel: byId("queue-panel", HTMLElement),
    queued: byId("queued", HTMLElement),
  };
}
