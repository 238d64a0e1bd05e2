import cliProgress from "cli-progress";
import type { NonFatalStreamError, RequestError } from "../client/index.ts";
import { describeError } from "./describe-error.ts";
import { type CliEnvironment, isInteractive, type Output } from "./environment.ts";
import type { SavedImage } from "./save-images.ts";

/** How `troupe stream` and `troupe submit --follow` show a request's events. */
export interface EventPrinter {
  queued(position: number): void;
  started(): void;
  image(n: number, image: SavedImage): void;
  result(n: number, data: unknown, id: number | undefined): void;
  error(error: NonFatalStreamError): void;
  /** A queued request runs again from the start (its replica was lost). */
  retry(attempt: number, error: RequestError): void;
  done(data: unknown): void;
  /** Takes the progress bar down (before an error is printed, say). */
  close(): void;
}

/** The printer for where stdout goes: a terminal's, or JSON lines for a program. */
export function eventPrinter(environment: CliEnvironment): EventPrinter {
  return isInteractive(environment)
    ? terminalPrinter(environment.stdout)
    : jsonLinesPrinter(environment.stdout, environment.stderr);
}

/**
 * One JSON object per line, for programs (a non-fatal error also as a line on stderr): `{"type":"result","n":1,"id":1,"data":…}` … `{"type":"done",…}`.
 */
export function jsonLinesPrinter(stdout: Output, stderr: Output): EventPrinter {
  const line = (value: unknown): void => {
    stdout.write(`${JSON.stringify(value)}\n`);
  };
  return {
    queued: (position) => line({ type: "queued", position }),
    started: () => line({ type: "started" }),
    image: (n, image) => line({ type: "image", n, path: image.path }),
    result: (n, data, id) => line({ type: "result", n, ...(id === undefined ? {} : { id }), data }),
    error: (error) => {
      line({
        type: "error",
        fatal: false,
        error: {
          code: error.code,
          message: error.message,
          rank: error.rank,
          requestId: error.requestId,
        },
      });
      stderr.write(`troupe: error event: ${describeError(error)}\n`);
    },
    retry: (attempt, error) =>
      line({ type: "retry", attempt, error: { code: error.code, message: error.message } }),
    done: (data) => line({ type: "done", data }),
    close: () => {},
  };
}

/**
 * For a person at a terminal: a progress bar while results carry `progress` (0..1), with their
 * other fields beside it; every other event as a line above the bar; the final result last.
 */
export function terminalPrinter(stdout: Output): EventPrinter {
  let bars: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  const log = (text: string): void => {
    if (bars === undefined) stdout.write(`${text}\n`);
    else bars.log(`${text}\n`);
  };
  const close = (): void => {
    bars?.stop();
    bars = undefined;
    bar = undefined;
  };
  return {
    queued: (position) => log(`queued: ${position} ahead`),
    started: () => log("started"),
    image: (_n, image) => log(`saved ${image.path}`),
    result: (n, data, id) => {
      const progress = (data as { progress?: unknown } | null)?.progress;
      if (typeof progress !== "number" || !(progress >= 0 && progress <= 1)) {
        log(`#${id ?? n} ${JSON.stringify(data)}`);
        return;
      }
      const { progress: _, ...rest } = data as Record<string, unknown>;
      const fields = Object.entries(rest)
        .map(
          ([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`,
        )
        .join("  ");
      if (bars === undefined || bar === undefined) {
        bars = new cliProgress.MultiBar(
          {
            stream: stdout as unknown as NodeJS.WritableStream,
            format: "{bar} {percentage}% | {fields}",
            hideCursor: false,
            clearOnComplete: false,
            linewrap: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar = bars.create(100, 0, { fields });
      }
      bar.update(Math.round(progress * 100), { fields });
    },
    error: (error) => log(`error: ${describeError(error)}`),
    retry: (attempt, error) => log(`retry: attempt ${attempt} (${describeError(error)})`),
    done: (data) => {
      close();
      stdout.write(`Result: ${JSON.stringify(data, null, 2)}\n`);
    },
    close,
  };
}
