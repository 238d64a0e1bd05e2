/** The last `limit` id'd events of a request, as encoded bytes, for clients that resume. */
export class ReplayBuffer {
  private readonly ids: number[] = [];
  private readonly events: Uint8Array[] = [];
  private start = 0;

  constructor(private readonly limit: number) {}

  push(id: number, bytes: Uint8Array): void {
    this.ids.push(id);
    this.events.push(bytes);
    if (this.ids.length - this.start > this.limit) this.start++;
    // Compact now and then instead of shifting on every push.
    if (this.start > 1024 && this.start * 2 > this.ids.length) {
      this.ids.splice(0, this.start);
      this.events.splice(0, this.start);
      this.start = 0;
    }
  }

  /**
   * The events after `lastId`, or `undefined` when some of them are no longer kept.
   * `lastId` 0 asks for everything from the first event.
   */
  after(lastId: number): Uint8Array[] | undefined {
    const oldest = this.ids[this.start];
    if (oldest === undefined) return lastId >= 0 ? [] : undefined;
    if (lastId + 1 < oldest) return undefined;
    const out: Uint8Array[] = [];
    for (let i = this.start; i < this.ids.length; i++) {
      if ((this.ids[i] as number) > lastId) out.push(this.events[i] as Uint8Array);
    }
    return out;
  }
}
