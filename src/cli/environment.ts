/** A stream the CLI writes to: the process's stdout or stderr, or a test's stand-in. */
export interface Output {
  write(chunk: string): unknown;
  /** `true` for a terminal: progress bars and pretty output instead of JSON lines. */
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Everything the CLI takes from its surroundings, so tests can run it in-process. */
export interface CliEnvironment {
  /** The arguments after the program name. */
  readonly argv: readonly string[];
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where relative paths (the app module, `--out`) start. @default process.cwd() */
  readonly cwd?: string;
  /** Aborting it stops the command: a stream is cancelled, a server is closed. */
  readonly signal?: AbortSignal;
}

/** Whether to draw for a person (progress bar) rather than write JSON lines for a program. */
export function isInteractive(environment: CliEnvironment): boolean {
  const { env, stdout } = environment;
  return stdout.isTTY === true && env.TERM !== "dumb" && env.CI === undefined;
}
