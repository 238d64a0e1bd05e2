import type { RankInfo, RunnerState } from "../runner/distributed-runner.ts";
import type { runnersOf } from "./runners-of.ts";

/** The app's state as `GET /health` reports it. */
export type HealthStatus = "starting" | "ready" | "restarting" | "failed";

/** The body of `GET /health`. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly runners: readonly {
    readonly name: string;
    readonly state: RunnerState;
    readonly worldSize: number;
    readonly queueLength: number;
    readonly ranks: readonly RankInfo[];
  }[];
}

/** The app's health from its runners': the worst of them wins. */
export function healthReport(runners: ReturnType<typeof runnersOf>): HealthReport {
  const states = runners.map(({ runner }) => runner.state);
  const has = (...wanted: RunnerState[]): boolean => states.some((s) => wanted.includes(s));
  const status: HealthStatus = has("failed", "stopping", "stopped")
    ? "failed"
    : has("restarting")
      ? "restarting"
      : has("idle", "starting")
        ? "starting"
        : "ready";
  return {
    status,
    runners: runners.map(({ name, runner }) => ({
      name,
      state: runner.state,
      worldSize: runner.worldSize,
      queueLength: runner.queueLength,
      ranks: runner.ranks,
    })),
  };
}
