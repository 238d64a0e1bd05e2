import { DistributedWorker } from "./troupe.ts";

/** How a rank was loaded: proves the compiled workers run without tsx. */
export interface LoaderProbe {
  readonly module: string;
  readonly execArgv: readonly string[];
}

/** A trivial `setup()`; `call()` returns its input, or a {@link LoaderProbe} for `"probe"`. */
export default class EchoWorker extends DistributedWorker<
  unknown,
  unknown,
  { readonly label?: string } | undefined
> {
  label = "";

  override setup(options: { readonly label?: string } | undefined): void {
    this.label = options?.label ?? "";
  }

  override call(input: unknown): unknown {
    if (input === "probe") return { module: import.meta.url, execArgv: process.execArgv };
    return input;
  }
}
