#!/usr/bin/env node
/** The `troupe` executable: runs {@link main} with this process's streams, arguments and signals. */
import { main } from "./program.ts";

const controller = new AbortController();
const stop = (): void => controller.abort();
process.once("SIGINT", stop);
process.once("SIGTERM", stop);

const code = await main({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
});
process.off("SIGINT", stop);
process.off("SIGTERM", stop);
process.exitCode = code;
