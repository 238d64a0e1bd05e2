import type { ImageFormat } from "../encoding/image.ts";
import type { EventBuffer } from "./event-buffer.ts";

export type RequestState = "queued" | "running" | "settling" | "finished";

/** One call's state inside the runner, from submission until every rank is done with it. */
export class RunnerRequest {
  state: RequestState = "queued";
  /** Ranks that have not yet finished or abandoned this request. */
  readonly pendingRanks = new Set<number>();
  /** Rank 0's encoded return value, once it arrived. */
  output: Uint8Array | undefined;
  /** A rank's COLLECTIVE_ABORTED caused by another rank: the outcome only if no better one comes. */
  abortEcho: Error | undefined;
  /** Undo functions run when the request finishes (timers, signal listeners). */
  readonly cleanups: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly requestId: string,
    readonly payload: Uint8Array,
    readonly streaming: boolean,
    readonly buffer: EventBuffer,
    readonly streamingTimeout: number | undefined,
    readonly imageFormat: ImageFormat,
  ) {}

  /** `true` once the consumer has its outcome (the ranks may still be winding down). */
  get settledForConsumer(): boolean {
    return this.buffer.outcome !== undefined;
  }

  runCleanups(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }
}
