import { existsSync, watch } from "node:fs";
import { basename, dirname } from "node:path";

/**
 * Resolves once `path` exists (a rank in another process writes it to say it got somewhere);
 * rejects with `failure` if it has not appeared within `within` ms, so a test that waits for a
 * rank that never comes fails with a reason instead of the runner's bare timeout.
 */
export async function untilFile(path: string, failure: string, within = 10_000): Promise<void> {
  const watcher = watch(dirname(path));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${failure} (no ${path} after ${within} ms)`)),
        within,
      );
      const check = () => {
        if (!existsSync(path)) return;
        clearTimeout(timer);
        resolve();
      };
      watcher.on("change", (_type, name) => {
        if (name === null || String(name) === basename(path)) check();
      });
      watcher.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      // After the watcher is in place, so a file written in between is not missed.
      check();
    });
  } finally {
    watcher.close();
  }
}
