/**
 * Admits at most `size` holders at once, the rest in arrival order as holders release. A browser
 * opens at most six connections to one origin over HTTP/1.1: status streams past that would
 * hold back every other request of the page (a cancel, a result) until one ended.
 */
export class StreamSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  /** Resolves once a slot is this caller's, with the function that gives it back (once). */
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      if (next === undefined) this.free += 1;
      else next();
    };
  }
}
