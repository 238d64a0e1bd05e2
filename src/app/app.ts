import { runnersOf } from "./runners-of.ts";

/**
 * The base class of a troupe app: `setup()` once before the server accepts requests (start
 * runners there; the port is open meanwhile, for the health probes), `teardown()` once after it
 * stopped (stop them). Methods marked with `@endpoint` are its routes. The counterpart of
 * `fal.App`.
 *
 * @example
 * ```ts
 * export default class MyApp extends App {
 *   runner!: DistributedRunner;
 *   override async setup() { ... }
 *   @endpoint("/", { input: MyRequest })
 *   async run(request: z.infer<typeof MyRequest>) { return await this.runner.invoke(request); }
 * }
 * ```
 */
export class App {
  /** How many GPUs the app wants (one rank each); informative, read by your `setup()`. */
  numGpus = 1;

  /** Runs once before the server accepts requests. */
  async setup(): Promise<void> {}

  /**
   * Runs once after the server stopped accepting requests and every stream ended. The default
   * stops every `DistributedRunner` held in one of the app's own properties.
   */
  async teardown(): Promise<void> {
    await Promise.all(runnersOf(this).map(({ runner }) => runner.stop()));
  }
}

/** An {@link App} class with a constructor that takes no arguments. */
export type AppClass<A extends App = App> = new () => A;
