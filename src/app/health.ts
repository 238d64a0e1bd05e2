import type { RankInfo, RunnerState } from "../runner/distributed-runner.ts";
import type { runnersOf } from "./runners-of.ts";

/** The app's state as `GET /health` reports it. */
export type HealthStatus = "starting" | "ready" | "restarting" | "failed";

/** The queue as `GET /health` reports it. */
export interface QueueHealth {
  readonly appId: string;
  /** `memory`: this process's own; `redis`: shared with every replica of the app id. */
  readonly store: "memory" | "redis";
  /** Whether the store is reachable (Redis); while it is not, new requests get 503. */
  readonly connected: boolean;
  /** Requests waiting, over every replica. */
  readonly queued: number;
}

/** The body of `GET /health`. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly queue?: QueueHealth;
  readonly runners: readonly {
    readonly name: string;
    readonly state: RunnerState;
    readonly worldSize: number;
    readonly queueLength: number;
    readonly ranks: readonly RankInfo[];
  }[];
}

/** The probes troupe serves: the full report, liveness and readiness. */
export type Probe = "health" | "live" | "ready";

/** Where the server is in its life, beside its runners' states. */
export interface ServerPhase {
  /** Whether the app's `setup()` has finished. */
  readonly setUp: boolean;
  /** Whether `close()` began. */
  readonly closing: boolean;
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

/**
 * The server's health: `starting` until `setup()` has finished (an app whose runners start
 * there has none to report yet), `failed` once it shuts down, its runners' health otherwise.
 */
export function serverHealth(
  runners: ReturnType<typeof runnersOf>,
  phase: ServerPhase,
): HealthReport {
  const report = healthReport(runners);
  if (phase.closing) return { ...report, status: "failed" };
  if (!phase.setUp) return { ...report, status: "starting" };
  return report;
}

/**
 * A probe's HTTP status, by Kubernetes' conventions: readiness (and the full report) is 200 only
 * when the app is `ready`, so no traffic is sent while runners start or restart; liveness is 200
 * while the server serves, starting and restarting included, and 503 only once it is `failed`
 * (a runner gave up restarting, or the server shuts down), where restarting the process is the
 * cure.
 */
export function probeStatusCode(probe: Probe, status: HealthStatus): 200 | 503 {
  if (probe === "live") return status === "failed" ? 503 : 200;
  return status === "ready" ? 200 : 503;
}
