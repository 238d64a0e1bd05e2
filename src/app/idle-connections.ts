import type { Server } from "node:http";
import type { Socket } from "node:net";
import { Server as TlsServer } from "node:tls";

/**
 * Closes the connections a shutting-down server still holds but does not use: keep-alive ones
 * between requests, and ones a client opened ahead of a request it never sent (undici does after
 * a cancelled response). Node's own `closeIdleConnections` skips the latter, so `close()` would
 * wait for them until the headers timeout. A connection with a response in progress is closed as
 * soon as that response is over.
 */
export class IdleConnections {
  private readonly busy = new Map<Socket, number>();
  private closing = false;

  constructor(server: Server) {
    // Over TLS a request's socket is the TLS socket, not the TCP one `connection` gives: count
    // those. One still in its handshake is not counted; the handshake timeout ends it.
    const opened = (server as unknown) instanceof TlsServer ? "secureConnection" : "connection";
    server.on(opened, (socket: Socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.busy.set(socket, 0);
      socket.once("close", () => this.busy.delete(socket));
    });
    server.on("request", (request, response) => {
      const socket = request.socket as Socket;
      this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
      response.once("close", () => {
        const left = (this.busy.get(socket) ?? 1) - 1;
        this.busy.set(socket, left);
        if (this.closing && left === 0) socket.destroy();
      });
    });
  }

  /** Closes every idle connection now, and each busy one when its response is over. */
  closeAll(): void {
    this.closing = true;
    for (const [socket, count] of this.busy) if (count === 0) socket.destroy();
  }
}
