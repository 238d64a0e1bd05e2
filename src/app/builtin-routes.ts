import { healthReport } from "./health.ts";
import type { HttpServer } from "./http-server.ts";
import { openApiDocument } from "./openapi.ts";
import type { ServerContext } from "./server-context.ts";

/** `GET /health`, `GET /openapi.json` and `GET /metrics`. */
export function registerBuiltinRoutes(server: HttpServer, context: ServerContext): void {
  server.get("/health", async (_request, reply) => {
    const report = healthReport(context.runners());
    const status = context.closing() ? "failed" : report.status;
    return reply.code(status === "ready" ? 200 : 503).send({ ...report, status });
  });
  const document = openApiDocument(context.title, context.endpoints);
  server.get("/openapi.json", async (_request, reply) => reply.send(document));
  server.get("/metrics", async (_request, reply) =>
    reply.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics()),
  );
}
