/**
 * Tells `send` what this rank writes to its stdout and stderr (`rankPrint`, `console.log`, …),
 * after writing it there as usual. The runner attributes it to the request that runs: sent on the
 * control channel, it arrives in order with that request's `started` and `done`.
 */
export function captureOutput(send: (stream: "stdout" | "stderr", text: string) => void): void {
  for (const name of ["stdout", "stderr"] as const) {
    const stream = process[name];
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
}
