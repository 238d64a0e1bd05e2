import type { Command } from "commander";
import { type DestinationStream, pino } from "pino";
import { serve } from "../../app/index.ts";
import type { CliEnvironment } from "../environment.ts";
import { loadApp } from "../load-app.ts";
import { parsePort } from "../parse-input.ts";

interface RunFlags {
  readonly port: number;
  readonly host: string;
}

export function addRunCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("run")
    .description(
      "Serve an app: <app> is a module (.ts or .js) whose default export is an App class",
    )
    .argument("<app>", "the app module, e.g. ./app.ts")
    .option("--port <port>", "the port to listen on (0: any free one)", parsePort, 8000)
    .option("--host <host>", "the address to listen on", "127.0.0.1")
    .action(async (app: string, flags: RunFlags) => {
      const AppClass = await loadApp(app, environment.cwd ?? process.cwd());
      const server = await serve(AppClass, {
        port: flags.port,
        host: flags.host,
        handleSignals: true,
        // Logs go to stderr, so stdout carries only what the command prints.
        logger: pino({ name: "troupe" }, environment.stderr as DestinationStream),
      });
      environment.stdout.write(`Listening on ${server.url}\n`);
      // Serves until the signal (SIGINT/SIGTERM in the executable) stops it.
      const { signal } = environment;
      await new Promise<void>((done) => {
        if (signal === undefined) return;
        if (signal.aborted) done();
        else signal.addEventListener("abort", () => done(), { once: true });
      });
      await server.close();
      setExit(0);
    });
}
