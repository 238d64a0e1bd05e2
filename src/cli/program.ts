import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";
import { isAbortError } from "../errors.ts";
import { addCallCommand } from "./commands/call-command.ts";
import { addCancelCommand } from "./commands/cancel-command.ts";
import { addInitCommand } from "./commands/init-command.ts";
import { addResultCommand } from "./commands/result-command.ts";
import { addRunCommand } from "./commands/run-command.ts";
import { addStatusCommand } from "./commands/status-command.ts";
import { addStreamCommand } from "./commands/stream-command.ts";
import { addSubmitCommand } from "./commands/submit-command.ts";
import { describeError } from "./describe-error.ts";
import type { CliEnvironment } from "./environment.ts";
import type { EventPrinter } from "./event-printer.ts";
import { ExitCode } from "./exit-code.ts";

export type { CliEnvironment, Output } from "./environment.ts";

export { ExitCode } from "./exit-code.ts";

/**
 * The `troupe` command line: `run <app>`, `stream <url>`, `call <url>`, the queue's `submit`,
 * `status`, `result` and `cancel`, and `init`. Takes its arguments,
 * streams and environment as parameters and resolves with the exit code; errors are one line
 * on stderr.
 *
 * @example
 * ```ts
 * process.exitCode = await main({ argv: process.argv.slice(2), stdout: process.stdout, stderr: process.stderr, env: process.env });
 * ```
 */
export async function main(environment: CliEnvironment): Promise<number> {
  const { stdout, stderr } = environment;
  let code: number = ExitCode.failure;
  const setExit = (value: number): void => {
    code = value;
  };
  let printer: EventPrinter | undefined;
  const program = new Command("troupe")
    .description("Serve troupe apps and stream from them")
    .version(version(), "-v, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr: (text) => stderr.write(text),
    });
  addRunCommand(program, environment, setExit);
  addStreamCommand(program, environment, setExit, (p) => {
    printer = p;
  });
  addCallCommand(program, environment, setExit);
  addSubmitCommand(program, environment, setExit, (p) => {
    printer = p;
  });
  addStatusCommand(program, environment, setExit);
  addResultCommand(program, environment, setExit);
  addCancelCommand(program, environment, setExit);
  addInitCommand(program, environment, setExit);
  try {
    await program.parseAsync([...environment.argv], { from: "user" });
    return code;
  } catch (error) {
    printer?.close();
    if (error instanceof CommanderError) {
      // commander has printed its message (or the help) already.
      return error.exitCode === 0 ? 0 : ExitCode.failure;
    }
    if (isAbortError(error) || environment.signal?.aborted) {
      stderr.write("troupe: cancelled\n");
      return ExitCode.interrupted;
    }
    stderr.write(`troupe: ${describeError(error)}\n`);
    return ExitCode.failure;
  }
}

function version(): string {
  // src/cli and dist/cli are both two levels below the package root.
  const pkg = createRequire(import.meta.url)("../../package.json") as { version: string };
  return pkg.version;
}
