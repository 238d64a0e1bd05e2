import type { Command } from "commander";
import type { LevelWithSilent } from "pino";
import { serve } from "../../app/index.ts";
import { checkAppId } from "../../app/options.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { abortOf } from "../../internal/abort-of.ts";
import { readApiKeyFile } from "../api-key-file.ts";
import type { CliEnvironment } from "../environment.ts";
import { loadApp } from "../load-app.ts";
import { cliLogger, type LogFormat, parseLogFormat, parseLogLevel } from "../log-format.ts";
import { parsePort } from "../parse-input.ts";
import { readTlsFiles } from "../tls-files.ts";
import { runWatched } from "../watch.ts";

interface RunFlags {
  readonly port: number;
  readonly host: string;
  readonly logLevel?: LevelWithSilent;
  readonly logFormat?: LogFormat;
  readonly apiKeyFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly appId?: string;
  readonly redis?: string;
  readonly watch?: boolean;
}

export function addRunCommand(
  program: Command,
  environment: CliEnvironment,
  setExit: (code: number) => void,
): void {
  program
    .command("run")
    .description(
      "Serve an app: <app> is a module (.ts or .js) whose default export is an App class. Prints `Listening on <url>` once the app is ready; logs go to stderr",
    )
    .argument("<app>", "the app module, e.g. ./app.ts")
    .option("--port <port>", "the port to listen on (0: any free one)", parsePort, 8000)
    .option("--host <host>", "the address to listen on", "127.0.0.1")
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug, trace or silent (default: $TROUPE_LOG_LEVEL, else info)",
      parseLogLevel,
    )
    .option(
      "--log-format <format>",
      "pretty or json (default: pretty when stderr is a terminal, json otherwise)",
      parseLogFormat,
    )
    .option(
      "--api-key-file <file>",
      "require one of the API keys in <file> (one a line; # comments) on every route but /health",
    )
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (with --tls-key)")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option(
      "--app-id <owner/alias>",
      "the app's id on fal's routes (default: local/<app class name in kebab case>)",
      parseAppId,
    )
    .option(
      "--redis <url>",
      "make this server a replica: share the queue through this Redis with every replica of the app id (default: $TROUPE_REDIS_URL; unset, the queue lives in this process)",
    )
    .option("--watch", "restart the app and its ranks when a file under the app's folder changes")
    .action(async (app: string, flags: RunFlags) => {
      const cwd = environment.cwd ?? process.cwd();
      const level = flags.logLevel ?? parseLogLevel(environment.env.TROUPE_LOG_LEVEL ?? "info");
      const format = flags.logFormat ?? (environment.stderr.isTTY === true ? "pretty" : "json");
      // Read here in both modes: a missing or empty file fails at once, not at every restart.
      const keys =
        flags.apiKeyFile === undefined ? undefined : readApiKeyFile(flags.apiKeyFile, cwd);
      const tls = readTlsFiles(flags.tlsCert, flags.tlsKey, cwd);
      const redis = flags.redis ?? nonEmpty(environment.env.TROUPE_REDIS_URL);
      if (flags.watch === true) {
        const args = (port: number) => [
          "run",
          app,
          ...["--port", String(port), "--host", flags.host],
          // The child's stderr is a pipe: the format is decided here, where the terminal is.
          ...["--log-level", level, "--log-format", format],
          ...(flags.apiKeyFile === undefined ? [] : ["--api-key-file", flags.apiKeyFile]),
          ...(tls === undefined
            ? []
            : ["--tls-cert", `${flags.tlsCert}`, "--tls-key", `${flags.tlsKey}`]),
          ...(flags.appId === undefined ? [] : ["--app-id", flags.appId]),
          ...(redis === undefined ? [] : ["--redis", redis]),
        ];
        setExit(await runWatched({ app, cwd, port: flags.port, args, environment }));
        return;
      }
      const AppClass = await loadApp(app, cwd);
      const logger = cliLogger(level, format, environment.stderr);
      const server = await serve(AppClass, {
        port: flags.port,
        host: flags.host,
        handleSignals: true,
        // Logs go to stderr, so stdout carries only what the command prints: the one line
        // below, once the app is ready. The port opens earlier, while setup() runs.
        logger,
        onListening: ({ url }) => logger.debug({ url }, "port open; the app's setup() is running"),
        ...(keys === undefined ? {} : { auth: { keys } }),
        ...(tls === undefined ? {} : { tls }),
        ...(flags.appId === undefined ? {} : { appId: flags.appId }),
        ...(redis === undefined ? {} : { redis }),
      });
      environment.stdout.write(`Listening on ${server.url}\n`);
      // Serves until the signal (SIGINT/SIGTERM in the executable) stops it.
      await abortOf(environment.signal);
      await server.close();
      setExit(0);
    });
}

function parseAppId(text: string): string {
  try {
    return checkAppId(text);
  } catch {
    throw new InvalidArgumentError(
      `Expected --app-id to be owner/alias (letters, digits, "-", "_", "."), got ${text}`,
    );
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
