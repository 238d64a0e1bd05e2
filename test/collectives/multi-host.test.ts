import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launch } from "./harness.ts";

const WORLD = 3;
const id = process.pid % 10_000;
const subnet = `10.213.${process.pid % 250}`;
const bridge = `trb${id}`;
const namespaces = [...Array(WORLD).keys()].map((i) => `troupe-${id}-${i}`);

function ip(...args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
}

const isRoot = process.getuid?.() === 0;
const hasIp = spawnSync("ip", ["-V"]).status === 0;
const skipReason = !isRoot
  ? "needs root to create network namespaces"
  : !hasIp
    ? "needs the `ip` command (iproute2)"
    : undefined;

describe.skipIf(skipReason !== undefined)(
  `ranks on different hosts${skipReason ? ` (skipped: ${skipReason})` : ""}`,
  () => {
    beforeAll(() => {
      ip("link", "add", bridge, "type", "bridge");
      ip("addr", "add", `${subnet}.1/24`, "dev", bridge);
      ip("link", "set", bridge, "up");
      namespaces.forEach((ns, i) => {
        ip("netns", "add", ns);
        ip("link", "add", `trv${id}x${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ip("link", "set", `trv${id}x${i}`, "master", bridge, "up");
        ip("-n", ns, "addr", "add", `${subnet}.${10 + i}/24`, "dev", "eth0");
        ip("-n", ns, "link", "set", "eth0", "up");
        ip("-n", ns, "link", "set", "lo", "up");
      });
    });

    afterAll(() => {
      for (const ns of namespaces) spawnSync("ip", ["netns", "del", ns]);
      spawnSync("ip", ["link", "del", bridge]);
    });

    it("form a group over TCP when each rank runs in its own network namespace, reachable only by IP address", async () => {
      await using run = await launch("multiHost", WORLD, {
        wrap: (rank) => ({ command: "ip", args: ["netns", "exec", namespaces[rank] as string] }),
        masterAddr: () => `${subnet}.1`,
      });
      const outcomes = await run.outcomes();
      outcomes.forEach((outcome, rank) => {
        expect(outcome.error).toBeUndefined();
        const transports = [0, 1, 2].map((r) => (r === rank ? "self" : "tcp"));
        expect(outcome.value).toMatchObject({ transports, allReduceOk: true });
      });
      expect(outcomes[0]?.value).toMatchObject({ parts: [0, 1, 2] });
    });
  },
);
