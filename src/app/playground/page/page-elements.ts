/** The elements of the playground's HTML (playground-html.ts) that its script drives. */
export interface PageElements {
  readonly endpoint: HTMLSelectElement;
  readonly description: HTMLElement;
  readonly form: HTMLFormElement;
  readonly fields: HTMLElement;
  readonly run: HTMLButtonElement;
  readonly cancel: HTMLButtonElement;
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
}

/** Looks up every element the script needs; throws, naming it, if the page lacks one. */
export function pageElements(doc: Document): PageElements {
  const byId = <T extends HTMLElement>(id: string, kind: { new (): T; prototype: T }): T => {
    const node = doc.getElementById(id);
    if (!(node instanceof kind)) throw new Error(`The playground page has no #${id} ${kind.name}`);
    return node;
  };
  return {
    endpoint: byId("endpoint", HTMLSelectElement),
    description: byId("endpoint-description", HTMLElement),
    form: byId("form", HTMLFormElement),
    fields: byId("fields", HTMLElement),
    run: byId("run", HTMLButtonElement),
    cancel: byId("cancel", HTMLButtonElement),
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
  };
}
