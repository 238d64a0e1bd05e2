import { DistributedRunner } from "../runner/distributed-runner.ts";

/** The runners an app holds in its own properties (also inside arrays), with the property name. */
export function runnersOf(
  app: object,
): { readonly name: string; readonly runner: DistributedRunner }[] {
  const out: { name: string; runner: DistributedRunner }[] = [];
  for (const [name, value] of Object.entries(app)) {
    if (DistributedRunner.isInstance(value)) out.push({ name, runner: value });
    else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (DistributedRunner.isInstance(item)) out.push({ name: `${name}[${i}]`, runner: item });
      });
    }
  }
  return out;
}
