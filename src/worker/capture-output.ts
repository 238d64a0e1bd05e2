/**
 * Tells `send` what this rank writes to its stdout and stderr (`rankPrint`, `console.log`, …),
 * after writing it there as usual. The runner attributes it to the request that runs: sent on the
 * control channel, it arrives in order with that request's `started` and `done`.
 */
export function captureOutput(send: (stream: "stdout" | "stderr", text: string) => void): void {
  for (const name of ["stdout", "stderr"] as const) {
    // Patched when first used: making the stream costs a rank's start 1-3 ms, and many ranks
    // never print. Node's getter keeps the one stream it made; it is put back once that is patched.
    const descriptor = Object.getOwnPropertyDescriptor(process, name);
    const get = descriptor?.get;
    if (descriptor === undefined || get === undefined) {
      patch(process[name], name, send);
      continue;
    }
    Object.defineProperty(process, name, {
      ...descriptor,
      get() {
        const stream = get.call(process) as NodeJS.WriteStream;
        Object.defineProperty(process, name, descriptor);
        patch(stream, name, send);
        return stream;
      },
    });
  }
}

function patch(
  stream: NodeJS.WriteStream,
  name: "stdout" | "stderr",
  send: (stream: "stdout" | "stderr", text: string) => void,
): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const written = write(chunk, ...rest);
    const text =
      typeof chunk === "string"
        ? chunk
        : chunk instanceof Uint8Array
          ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("utf8")
          : undefined;
    if (text !== undefined && text !== "") send(name, text);
    return written;
  }) as typeof stream.write;
}
