import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { TlsOption } from "../app/options.ts";
import { InvalidArgumentError } from "../errors.ts";

/**
 * `--tls-cert` and `--tls-key` as serve()'s `tls`: both files or neither, each read as PEM
 * (whether they hold a certificate and its key is checked when the server is made). A file
 * that cannot be read is one line naming it.
 */
export function readTlsFiles(
  cert: string | undefined,
  key: string | undefined,
  cwd: string,
): TlsOption | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    const given = cert === undefined ? "--tls-key" : "--tls-cert";
    throw new InvalidArgumentError(
      `Expected --tls-cert and --tls-key together (HTTPS needs the certificate and its key), got only ${given}`,
    );
  }
  return { cert: readPem("certificate", cert, cwd), key: readPem("key", key, cwd) };
}

function readPem(what: string, file: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, file), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : (code ?? (error as Error).message);
    throw new InvalidArgumentError(`Could not read the TLS ${what} file ${file}: ${why}`, {
      cause: error,
    });
  }
}
