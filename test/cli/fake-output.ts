import { type Deferred, deferred } from "../../src/internal/deferred.ts";

/** A stdout or stderr stand-in that keeps what is written and says when a pattern shows up. */
export class FakeOutput {
  text = "";
  readonly isTTY: boolean;
  readonly columns = 100;
  private readonly waiters: { pattern: RegExp; found: Deferred<RegExpMatchArray> }[] = [];

  constructor(options: { tty?: boolean } = {}) {
    this.isTTY = options.tty ?? false;
  }

  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    for (const waiter of [...this.waiters]) {
      const match = this.text.match(waiter.pattern);
      if (match !== null) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.found.resolve(match);
      }
    }
    return true;
  }

  /** Resolves with the match once the output holds `pattern`. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    const match = this.text.match(pattern);
    if (match !== null) return Promise.resolve(match);
    const found = deferred<RegExpMatchArray>();
    this.waiters.push({ pattern, found });
    return found.promise;
  }

  /** The JSON lines written so far. */
  json(): unknown[] {
    return this.text
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as unknown);
  }

  // Enough of a terminal stream for cli-progress.
  cursorTo(): boolean {
    return true;
  }
  clearLine(): boolean {
    return true;
  }
  moveCursor(): boolean {
    return true;
  }
  on(): this {
    return this;
  }
  removeListener(): this {
    return this;
  }
}
