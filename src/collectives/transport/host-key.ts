import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Identifies the host and network namespace this process runs in. Ranks with the same key share
 * Unix sockets and shared memory; ranks in different network namespaces of one machine are
 * treated as different hosts, since abstract Unix sockets do not cross namespaces.
 */
export function hostKey(): string {
  return [
    hostname(),
    read(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()),
    read(() => readlinkSync("/proc/self/ns/net")),
  ].join("|");
}

function read(get: () => string): string {
  try {
    return get();
  } catch {
    return "";
  }
}
