import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { runnersOf } from "./runners-of.ts";

/** The server's Prometheus metrics, in a registry of its own (several servers per process work). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"method" | "route" | "status" | "outcome" | "code">;
  readonly duration: Histogram<"method" | "route">;
  readonly timeToFirstEvent: Histogram<"route">;
  readonly eventsSent: Counter<"route">;
  readonly openStreams: Gauge;

  constructor(runners: () => ReturnType<typeof runnersOf>) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "troupe_http_requests_total",
      help: "HTTP requests answered, streams included (counted when they end), by route, status, outcome (ok, rejected, failed, cancelled) and error code",
      labelNames: ["method", "route", "status", "outcome", "code"],
      registers,
    });
    this.duration = new Histogram({
      name: "troupe_http_request_duration_seconds",
      help: "Time from request to the end of its response (streams included)",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.timeToFirstEvent = new Histogram({
      name: "troupe_stream_time_to_first_event_seconds",
      help: "Time from a streaming request to its first event",
      labelNames: ["route"],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.eventsSent = new Counter({
      name: "troupe_stream_events_sent_total",
      help: "SSE events written to clients (heartbeats not counted)",
      labelNames: ["route"],
      registers,
    });
    this.openStreams = new Gauge({
      name: "troupe_stream_connections_open",
      help: "SSE connections open now",
      registers,
    });
    new Gauge({
      name: "troupe_runner_queue_length",
      help: "Requests waiting for their turn, over every runner",
      registers,
      collect() {
        this.set(runners().reduce((n, { runner }) => n + runner.queueLength, 0));
      },
    });
    new Gauge({
      name: "troupe_ranks_alive",
      help: "Rank processes running, over every runner",
      registers,
      collect() {
        this.set(
          runners().reduce(
            (n, { runner }) => n + runner.ranks.filter((r) => r.state !== "exited").length,
            0,
          ),
        );
      },
    });
  }
}
