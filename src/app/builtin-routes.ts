import { type Probe, probeStatusCode, type QueueHealth, serverHealth } from "./health.ts";
import type { HttpServer } from "./http-server.ts";
import { openApiDocument } from "./openapi.ts";
import type { ServerContext } from "./server-context.ts";

/**
 * `GET /health` (the full report), `GET /health/live` and `GET /health/ready` (`{status}`, for
 * Kubernetes' probes), `GET /openapi.json` and `GET /metrics`. `setUp` says whether the app's
 * `setup()` has finished: until then every probe says `starting`. The full report also says
 * how the queue is (`queue`).
 */
export function registerBuiltinRoutes(
  server: HttpServer,
  context: ServerContext,
  setUp: () => boolean,
  queue: () => QueueHealth,
): void {
  const health = () => ({
    ...serverHealth(context.runners(), { setUp: setUp(), closing: context.closing() }),
    queue: queue(),
  });
  const probe = (kind: Probe) =>
    server.get(`/health${kind === "health" ? "" : `/${kind}`}`, async (request, reply) => {
      const report = health();
      // When keys are set the probes are open to all, but only a caller with a key learns
      // which runners and ranks the app has.
      const full =
        kind === "health" &&
        (context.options.auth === undefined || context.principals.has(request.raw));
      return reply
        .code(probeStatusCode(kind, report.status))
        .send(full ? report : { status: report.status });
    });
  probe("health");
  probe("live");
  probe("ready");
  const document = openApiDocument(context.title, context.endpoints);
  server.get("/openapi.json", async (_request, reply) => reply.send(document));
  server.get("/metrics", async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  );
}
