import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy in front of the app that cuts its first connection once the app has sent
 * `cutAfter` through it, as a network that fails mid-stream would; later connections pass.
 */
export async function cuttingProxy(
  target: number,
  cutAfter: string,
): Promise<{ url: string; server: Server; heads: string[] }> {
  let connections = 0;
  const heads: string[] = [];
  const server = createServer((client: Socket) => {
    const first = connections++ === 0;
    const upstream = connect(target, "127.0.0.1");
    client.once("data", (chunk: Buffer) => {
      const head = chunk.toString("latin1").split("\r\n\r\n")[0] ?? "";
      const lastEventId = /^last-event-id: (.*)$/im.exec(head)?.[1];
      heads.push(
        `${head.split("\r\n")[0]}${lastEventId === undefined ? "" : ` last-event-id=${lastEventId}`}`,
      );
    });
    client.pipe(upstream);
    let seen = "";
    upstream.on("data", (chunk: Buffer) => {
      if (!first) {
        client.write(chunk);
        return;
      }
      seen += chunk.toString("latin1");
      const at = seen.indexOf(cutAfter);
      if (at === -1) {
        client.write(chunk);
        return;
      }
      // Forward up to the end of the marker, then drop both sides.
      const keep = chunk.length - (seen.length - (at + cutAfter.length));
      client.end(chunk.subarray(0, keep), () => client.destroy());
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, heads };
}
