import { type CallContext, DistributedWorker } from "../../src/index.ts";

export interface StreamInput {
  readonly prompt: string;
  readonly steps?: number;
  /** How long each step's work takes, in ms, so that a person watching sees it advance. */
  readonly stepMs?: number;
}

export interface Progress {
  readonly step: number;
  readonly progress: number;
  readonly message: string;
}

export interface FinalResult {
  readonly output: string;
}

/** Stands in for a model: each step mixes the prompt into a running state. */
class TinyModel {
  private state = 0x811c9dc5;

  step(prompt: string, rank: number): number {
    for (const char of `${prompt}#${rank}`) {
      this.state = Math.imul(this.state ^ char.charCodeAt(0), 0x01000193) >>> 0;
    }
    return this.state;
  }
}

/**
 * The seed's StreamingWorker (fal's "Event Streaming", step 1): every rank works on every step,
 * only rank 0 streams, one progress result per step, and the final result is `{ output }`.
 */
export default class StreamingWorker extends DistributedWorker<
  StreamInput,
  FinalResult,
  unknown,
  Progress
> {
  override async call(input: StreamInput, ctx: CallContext): Promise<FinalResult> {
    const steps = input.steps ?? 20;
    const model = new TinyModel();
    let state = 0;
    for (let step = 0; step < steps; step++) {
      ctx.signal.throwIfAborted(); // the client left: stop on every rank
      state = model.step(input.prompt, this.rank);
      if (input.stepMs) await new Promise((resolve) => setTimeout(resolve, input.stepMs));

      // Only rank 0 streams, to avoid duplicates. Awaiting it lets a slow client hold us back.
      if (this.rank === 0) {
        await this.addStreamingResult(
          {
            step,
            progress: (step + 1) / steps,
            message: `Processing step ${step + 1}/${steps}`,
          },
          { asTextEvent: true },
        );
      }
      // The seed's best practice 3: keep the ranks in step.
      await this.dist.barrier();
    }
    this.rankPrint(`finished "${input.prompt}" (state ${state.toString(16)})`);
    return { output: `${input.prompt}: ${steps} steps on ${this.worldSize} ranks` };
  }
}
